// The tic-tac-toe example's turn timer (examples/server/game.hpp) under
// SessionHarness, on virtual time: a player who does not move in time
// loses at the deadline, not before, also when nobody is connected and the
// game had stopped. Converted from test/net/game_test.cpp, which waited
// for the deadlines on the wall clock; the timer across a restart of the
// server (its alarm in a FileStore) stays there.

#include <CppUTest/TestHarness.h>

#include <stdexcept>
#include <string>

#include "examples/server/game.hpp"
#include "persist/memory_store.hpp"
#include "testing/cpputest.hpp"
#include "testing/session_harness.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::Client;
using troupe::testing::SessionHarness;
using troupe::testing::SessionHarnessOptions;
using troupe::testing::TestRuntime;

namespace {

// The example's game, observed.
struct ObservedGame : examples::TicTacToe {
  struct Life {
    int stops = 0;
    int alarms = 0;
    std::size_t connections_at_alarm = 0;
  };
  ObservedGame(std::chrono::milliseconds turn_time, Life* life)
      : TicTacToe(turn_time), life(life) {}
  Life* life;
  void on_stop() { ++life->stops; }
  Task<> on_alarm() {
    co_await TicTacToe::on_alarm();
    ++life->alarms;
    life->connections_at_alarm = connection_count();
  }
};

struct Games {
  explicit Games(std::chrono::milliseconds turn, Duration idle = 30s)
      : h(
            t, "game/clock", [this, turn] { return std::make_unique<ObservedGame>(turn, &life); },
            SessionHarnessOptions{.route = {.idle_timeout = idle}, .store = &store}) {}
  TestRuntime t;
  MemoryStore store{t.loop()};
  ObservedGame::Life life;
  SessionHarness<ObservedGame> h;

  // `nick` joins game `game`; its seat frame (a player's) is skipped, its
  // first state frame returned in `first`.
  Client& join(const std::string& game, const std::string& nick, examples::Json* first = nullptr) {
    Client& c = h.connect({.name = game, .query = {{"name", nick}}});
    auto frame = examples::parse_object(c.next_frame());
    if (frame && examples::string_at(*frame, "type") == "seat")
      frame = examples::parse_object(c.next_frame());
    CHECK_TRUE(frame && examples::string_at(*frame, "type") == "state");
    if (first) *first = *frame;
    return c;
  }
};

// The next frame, which must be a state frame.
examples::Json next_state(Client& c) {
  auto frame = examples::parse_object(c.expect_frame("\"type\":\"state\""));
  return frame.value_or(examples::Json::object());
}

std::string text(const examples::Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "<none>";
}

std::int64_t now_ms(TestRuntime& t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.wall_now().time_since_epoch())
      .count();
}

}  // namespace

TEST_GROUP(SessionGame){};

TEST(SessionGame, APlayerWhoDoesNotMoveInTimeLosesAtTheDeadline) {
  Games f(500ms);
  auto& ann = f.join("clock", "ann");
  auto& bob = f.join("clock", "bob");
  next_state(ann);  // bob took the other seat
  // No clock before the first move: nobody loses while the game waits.
  CHECK_FALSE(f.h.stored_value("alarms/game/clock").has_value());
  f.t.advance(1h);
  ann.expect_no_frame();

  ann.send(R"({"type":"move","cell":4})");
  auto after_x = next_state(bob);
  next_state(ann);
  const std::int64_t bobs_deadline = after_x["deadline"].get<std::int64_t>();
  LONGS_EQUAL(now_ms(f.t) + 500, bobs_deadline);
  // The alarm is in the store by the time anyone hears of the move.
  STRCMP_EQUAL(std::to_string(bobs_deadline).c_str(),
               f.h.stored_value("alarms/game/clock").value_or("none").c_str());

  // Bob answers in time, which gives ann a new deadline...
  f.t.advance(499ms);
  bob.send(R"({"type":"move","cell":0})");
  auto after_o = next_state(ann);
  next_state(bob);
  const std::int64_t anns_deadline = after_o["deadline"].get<std::int64_t>();
  LONGS_EQUAL(now_ms(f.t) + 500, anns_deadline);
  STRCMP_EQUAL("x", text(after_o, "turn").c_str());

  // ...which she lets pass: bob wins at her deadline, not before.
  f.t.advance(499ms);
  ann.expect_no_frame();
  f.t.advance(1ms);
  auto ended = next_state(ann);
  STRCMP_EQUAL("o", text(ended, "winner").c_str());
  STRCMP_EQUAL("timeout", text(ended, "reason").c_str());
  CHECK_TRUE(ended["deadline"].is_null());
  STRCMP_EQUAL("o...x....", text(ended, "board").c_str());
  STRCMP_EQUAL("o", text(next_state(bob), "winner").c_str());
  CHECK_FALSE(f.h.stored_value("alarms/game/clock").has_value());
}

TEST(SessionGame, TheAlarmStartsAStoppedGameToEndTheTurn) {
  Games f(1s, 50ms);
  auto& ann = f.join("idle", "ann");
  auto& bob = f.join("idle", "bob");
  next_state(ann);
  ann.send(R"({"type":"move","cell":4})");
  next_state(ann);
  next_state(bob);
  ann.disconnect();
  bob.disconnect();
  // Nobody connected: the game stops, well before bob's time is up...
  f.t.advance(50ms);
  CHECK_FALSE(f.h.alive("idle"));
  LONGS_EQUAL(1, f.life.stops);
  LONGS_EQUAL(0, f.life.alarms);
  // ...and the gateway starts it again for the alarm, at the deadline,
  // which it serves alone; then it stops again.
  f.t.advance(950ms - 1ns);
  LONGS_EQUAL(0, f.life.alarms);
  f.t.advance(1ns);
  LONGS_EQUAL(1, f.life.alarms);
  LONGS_EQUAL(0, f.life.connections_at_alarm);
  f.t.advance(50ms);
  LONGS_EQUAL(2, f.life.stops);

  examples::Json seen;
  f.join("idle", "cat", &seen);
  STRCMP_EQUAL("x", text(seen, "winner").c_str());
  STRCMP_EQUAL("timeout", text(seen, "reason").c_str());
  STRCMP_EQUAL("....x....", text(seen, "board").c_str());
}
