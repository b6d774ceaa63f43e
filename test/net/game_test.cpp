// The tic-tac-toe example (examples/server/game.hpp) through a real gateway
// with WebSocket clients: seats and roles, moves and their errors, wins,
// reconnecting players and their seat tokens, a restart of the game or of
// the server, and the turn timer across a restart of the server. The turn
// timer's deadlines (a player who does not move loses, also when nobody is
// connected) run on virtual time in test/testing/session_game_test.cpp.

#include "examples/server/game.hpp"

#include <CppUTest/TestHarness.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>

#include "net/gateway/gateway.hpp"
#include "persist/persistence.hpp"
#include "test/net/harness.hpp"
#include "test/net/stored_gateway.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// When the games started, stopped and rang, for the test thread to wait on.
struct Lifecycle {
  std::mutex m;
  std::condition_variable cv;
  int stops = 0;
  int alarms = 0;
  std::size_t connections_at_alarm = 0;

  void stopped() {
    std::lock_guard lock(m);
    ++stops;
    cv.notify_all();
  }
  void rang(std::size_t connections) {
    std::lock_guard lock(m);
    ++alarms;
    connections_at_alarm = connections;
    cv.notify_all();
  }
  int read(const int& counter) {
    std::lock_guard lock(m);
    return counter;
  }
  bool wait(const int& counter, int n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 10s, [&] { return counter >= n; });
  }
};

// The example's game, observed.
struct ObservedGame : examples::TicTacToe {
  ObservedGame(milliseconds turn_time, Lifecycle* life) : TicTacToe(turn_time), life(life) {}
  Lifecycle* life;

  void on_stop() { life->stopped(); }
  Task<> on_alarm() {
    co_await TicTacToe::on_alarm();
    life->rang(connection_count());
  }
  // "crash" crashes the game, as a bug would: the gateway restarts it,
  // which gets the connections back (resumed).
  Task<> on_message(Connection& c, std::string_view text, MessageKind kind) {
    if (text == "crash") throw std::runtime_error("crash requested by the test");
    co_await TicTacToe::on_message(c, text, kind);
  }
};

struct GameServer {
  Lifecycle life;
  milliseconds turn_time;
  RouteOptions kind;
  StoredGateway stored{[this](Gateway& g, Persistence&) {
    g.route(
        "/game", [this] { return std::make_unique<ObservedGame>(turn_time, &life); }, kind);
  }};

  explicit GameServer(milliseconds turn_time = 30s, RouteOptions kind = {})
      : turn_time(turn_time), kind(std::move(kind)) {}
  void start_gateway() { stored.start(); }
  void stop_gateway() { stored.stop(); }

  // The seat tokens the players got, by nick, which join() presents again.
  std::map<std::string, std::string> tokens;

  // A client of game `game` as `nick` (with its seat token, if it got one),
  // open, its first state frame taken (and the seat token sent before it kept).
  std::shared_ptr<ClientConnection> join(WsTestClient& client, const std::string& game,
                                         const std::string& nick, std::string* first = nullptr) {
    std::string query = "?name=" + nick;
    if (tokens.count(nick)) query += "&token=" + tokens[nick];
    auto c = client.connect(stored.port(), "/game/" + game + query);
    CHECK_TRUE(c->wait_open(3s));
    auto m = c->next_message(5s);
    CHECK_TRUE(m.has_value());
    auto frame = examples::parse_object(m.value_or(ClientMessage{}).data);
    if (frame && examples::string_at(*frame, "type") == "seat") {
      tokens[nick] = examples::string_at(*frame, "token").value_or("");
      m = c->next_message(5s);
      CHECK_TRUE(m.has_value());
    }
    if (first) *first = m.value_or(ClientMessage{}).data;
    return c;
  }

  // The alarm the gateway keeps in the store for game `game` (its value), if any.
  std::optional<std::string> stored_alarm(const std::string& game) {
    return stored.rt.run_on_async<std::optional<std::string>>(0, [&](auto done) {
      stored.files.client().store().get("alarms/game/" + game, [done](auto r) {
        done(r.ok() && r.value() ? std::optional(r.value()->value) : std::nullopt);
      });
    });
  }
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

// A field of a state frame: a string's text (escapes left as they are), or
// a number or null as written.
std::string field(const std::string& frame, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + R"re(":("((?:[^"\\]|\\.)*)"|[^,}]*))re");
  if (!std::regex_search(frame, m, re)) return "<no " + key + ">";
  return m[2].matched ? m[2].str() : m[1].str();
}

std::int64_t number(const std::string& frame, const std::string& key) {
  return std::atoll(field(frame, key).c_str());
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The next frame, which must be a state frame.
std::string next_state(ClientConnection& c) {
  std::string frame = next(c);
  STRCMP_EQUAL("state", field(frame, "type").c_str());
  return frame;
}

}  // namespace

TEST_GROUP(Game) {
  Watchdog watchdog{60s};
};

TEST(Game, FirstTwoNicksTakeTheSeatsAndEveryoneElseWatches) {
  GameServer server;
  WsTestClient client;
  std::string first;
  auto ann = server.join(client, "roles", "ann", &first);
  // Exact frame, clock fields aside (no clock before the first move).
  STRCMP_EQUAL(R"({"type":"state","board":".........","turn":"x","players":{"x":"ann","o":null},)"
               R"("role":"x","winner":null,"reason":null,"deadline":null,"now":)",
               first.substr(0, first.rfind(':') + 1).c_str());
  std::string bobs;
  auto bob = server.join(client, "roles", "bob", &bobs);
  STRCMP_EQUAL("o", field(bobs, "role").c_str());
  STRCMP_EQUAL("bob", field(bobs, "o").c_str());
  // Bob's seat is a change: ann hears of it.
  std::string seen = next_state(*ann);
  STRCMP_EQUAL("x", field(seen, "role").c_str());
  STRCMP_EQUAL("bob", field(seen, "o").c_str());

  std::string cats;
  auto cat = server.join(client, "roles", "cat", &cats);
  STRCMP_EQUAL("spectator", field(cats, "role").c_str());
  STRCMP_EQUAL("ann", field(cats, "x").c_str());
  STRCMP_EQUAL("bob", field(cats, "o").c_str());
  // No nick: a guest, who watches too.
  auto guest = client.connect(server.stored.port(), "/game/roles");
  CHECK_TRUE(guest->wait_open(3s));
  STRCMP_EQUAL("spectator", field(next(*guest), "role").c_str());

  // Each connection hears the next change with its own role (the tags pick them).
  ann->send(R"({"type":"move","cell":0})");
  STRCMP_EQUAL("x", field(next_state(*ann), "role").c_str());
  STRCMP_EQUAL("o", field(next_state(*bob), "role").c_str());
  STRCMP_EQUAL("spectator", field(next_state(*cat), "role").c_str());
  STRCMP_EQUAL("spectator", field(next_state(*guest), "role").c_str());
}

TEST(Game, ALegalMoveIsAcknowledgedAndBroadcastToEveryone) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "legal", "ann");
  auto bob = server.join(client, "legal", "bob");
  next_state(*ann);  // bob took o
  auto cat = server.join(client, "legal", "cat");

  std::int64_t before = now_ms();
  ann->send(R"({"type":"move","cell":4,"id":"m1"})");
  for (auto* c : {ann.get(), bob.get(), cat.get()}) {
    std::string s = next_state(*c);
    STRCMP_EQUAL("....x....", field(s, "board").c_str());
    STRCMP_EQUAL("o", field(s, "turn").c_str());
    STRCMP_EQUAL("null", field(s, "winner").c_str());
    // Bob's clock runs from the move: turn_time ahead.
    CHECK_TRUE(number(s, "deadline") >= before + 30'000);
    CHECK_TRUE(number(s, "deadline") <= now_ms() + 30'000);
  }
  STRCMP_EQUAL(R"({"type":"ack","id":"m1"})", next(*ann).c_str());
}

TEST(Game, IllegalMovesGetAnErrorAndChangeNothing) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "illegal", "ann");
  auto error = [](ClientConnection& c) {
    auto frame = examples::parse_object(next(c));
    CHECK_TRUE(frame.has_value());
    STRCMP_EQUAL("error", examples::string_at(*frame, "type").value_or("").c_str());
    return examples::string_at(*frame, "error").value_or("<no error>");
  };
  ann->send(R"({"type":"move","cell":0})");
  STRCMP_EQUAL("waiting for an opponent", error(*ann).c_str());

  auto bob = server.join(client, "illegal", "bob");
  next_state(*ann);
  auto cat = server.join(client, "illegal", "cat");
  bob->send(R"({"type":"move","cell":0})");
  STRCMP_EQUAL("not your turn", error(*bob).c_str());
  cat->send(R"({"type":"move","cell":0})");
  STRCMP_EQUAL("spectators cannot move", error(*cat).c_str());
  cat->send(R"({"type":"reset"})");
  STRCMP_EQUAL("only players can reset the game", error(*cat).c_str());
  for (const char* bad :
       {R"({"type":"move","cell":9})", R"({"type":"move","cell":-1})",
        R"({"type":"move","cell":"a"})", R"({"type":"move","cell":1.5})", R"({"type":"move"})"}) {
    ann->send(bad);
    STRCMP_EQUAL(R"(expected {"type":"move","cell":0..8})", error(*ann).c_str());
  }
  for (const char* bad : {"not json", R"({"cell":0})", R"({"type":"jump","cell":0})"}) {
    ann->send(bad);
    STRCMP_EQUAL(R"(expected {"type":"move","cell":0..8} or {"type":"reset"})",
                 error(*ann).c_str());
  }

  ann->send(R"({"type":"move","cell":4})");
  next_state(*ann);
  next_state(*cat);
  // Nothing before this was a change: bob's first frame since joining is ann's move.
  STRCMP_EQUAL("....x....", field(next_state(*bob), "board").c_str());
  bob->send(R"({"type":"move","cell":4})");
  STRCMP_EQUAL("cell 4 is taken", error(*bob).c_str());
  ann->send(R"({"type":"move","cell":0})");
  STRCMP_EQUAL("not your turn", error(*ann).c_str());

  // The board is still ann's one move: bob's next move is the only change.
  bob->send(R"({"type":"move","cell":0})");
  for (auto* c : {ann.get(), bob.get(), cat.get()}) {
    std::string s = next_state(*c);
    STRCMP_EQUAL("o...x....", field(s, "board").c_str());
    STRCMP_EQUAL("x", field(s, "turn").c_str());
  }
}

TEST(Game, ThreeInARowWinsAndAPlayerStartsANewGame) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "win", "ann");
  auto bob = server.join(client, "win", "bob");
  next_state(*ann);
  // x: 0 1 2 (the top row), o: 3 4
  std::string last;
  int moves[] = {0, 3, 1, 4, 2};
  for (int i = 0; i < 5; ++i) {
    auto& mover = i % 2 == 0 ? ann : bob;
    mover->send(R"({"type":"move","cell":)" + std::to_string(moves[i]) + "}");
    last = next_state(*ann);
    STRCMP_EQUAL(field(last, "board").c_str(), field(next_state(*bob), "board").c_str());
    if (i < 4) STRCMP_EQUAL("null", field(last, "winner").c_str());
  }
  STRCMP_EQUAL("xxxoo....", field(last, "board").c_str());
  STRCMP_EQUAL("x", field(last, "winner").c_str());
  STRCMP_EQUAL("line", field(last, "reason").c_str());
  STRCMP_EQUAL("null", field(last, "deadline").c_str());
  // The game ended: its alarm is gone.
  CHECK_FALSE(server.stored_alarm("win").has_value());

  bob->send(R"({"type":"move","cell":8})");
  std::string refused = next(*bob);
  STRCMP_EQUAL("the game is over", field(refused, "error").c_str());

  bob->send(R"({"type":"reset"})");
  for (auto* c : {ann.get(), bob.get()}) {
    std::string s = next_state(*c);
    STRCMP_EQUAL(".........", field(s, "board").c_str());
    STRCMP_EQUAL("x", field(s, "turn").c_str());
    STRCMP_EQUAL("null", field(s, "winner").c_str());
    STRCMP_EQUAL("ann", field(s, "x").c_str());
    STRCMP_EQUAL("bob", field(s, "o").c_str());
  }
}

TEST(Game, AFullBoardWithoutALineIsADraw) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "draw", "ann");
  auto bob = server.join(client, "draw", "bob");
  next_state(*ann);
  // x o x / x o o / o x x
  int moves[] = {0, 1, 2, 4, 3, 5, 7, 6, 8};
  std::string last;
  for (int i = 0; i < 9; ++i) {
    (i % 2 == 0 ? ann : bob)->send(R"({"type":"move","cell":)" + std::to_string(moves[i]) + "}");
    last = next_state(*ann);
    next_state(*bob);
  }
  STRCMP_EQUAL("xoxxoooxx", field(last, "board").c_str());
  STRCMP_EQUAL("draw", field(last, "winner").c_str());
  STRCMP_EQUAL("full", field(last, "reason").c_str());
}

TEST(Game, APlayerWhoReconnectsKeepsTheirSeat) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "seat", "ann");
  auto bob = server.join(client, "seat", "bob");
  next_state(*ann);
  ann->send(R"({"type":"move","cell":4})");
  next_state(*ann);
  next_state(*bob);
  ann->close(1000, "bye");
  CHECK_TRUE(ann->wait_closed(3s).has_value());

  // The seat stays ann's while she is away.
  std::string cats;
  auto cat = server.join(client, "seat", "cat", &cats);
  STRCMP_EQUAL("spectator", field(cats, "role").c_str());
  std::string back;
  auto again = server.join(client, "seat", "ann", &back);
  STRCMP_EQUAL("x", field(back, "role").c_str());
  STRCMP_EQUAL("....x....", field(back, "board").c_str());
  bob->send(R"({"type":"move","cell":0})");
  next_state(*bob);
  STRCMP_EQUAL("x", field(next_state(*again), "turn").c_str());
  again->send(R"({"type":"move","cell":8})");
  STRCMP_EQUAL("o...x...x", field(next_state(*again), "board").c_str());
}

TEST(Game, TheGameSurvivesARestartOfTheServer) {
  GameServer server;
  {
    WsTestClient client;
    auto ann = server.join(client, "keep", "ann");
    auto bob = server.join(client, "keep", "bob");
    next_state(*ann);
    ann->send(R"({"type":"move","cell":2,"id":"1"})");
    next_state(*ann);
    STRCMP_EQUAL(R"({"type":"ack","id":"1"})", next(*ann).c_str());
  }
  server.stop_gateway();
  server.start_gateway();
  WsTestClient client;
  std::string bobs;
  auto bob = server.join(client, "keep", "bob", &bobs);
  STRCMP_EQUAL("o", field(bobs, "role").c_str());
  STRCMP_EQUAL("..x......", field(bobs, "board").c_str());
  STRCMP_EQUAL("o", field(bobs, "turn").c_str());
  STRCMP_EQUAL("ann", field(bobs, "x").c_str());
  std::string anns;
  auto ann = server.join(client, "keep", "ann", &anns);
  STRCMP_EQUAL("x", field(anns, "role").c_str());
}

TEST(Game, TheTurnTimerSurvivesARestartOfTheServer) {
  GameServer server(1s);
  std::int64_t deadline = 0;
  {
    WsTestClient client;
    auto ann = server.join(client, "later", "ann");
    auto bob = server.join(client, "later", "bob");
    next_state(*ann);
    ann->send(R"({"type":"move","cell":0})");
    deadline = number(next_state(*ann), "deadline");
  }
  server.stop_gateway();
  LONGS_EQUAL(0, server.life.read(server.life.alarms));  // the server went down before the alarm
  server.start_gateway();
  // Whether the alarm came due while the server was down or comes after,
  // the restarted gateway rings it: bob, who never moved, loses.
  CHECK_TRUE(server.life.wait(server.life.alarms, 1));
  CHECK_TRUE(now_ms() >= deadline);
  WsTestClient client;
  std::string seen;
  auto cat = server.join(client, "later", "cat", &seen);
  STRCMP_EQUAL("x", field(seen, "winner").c_str());
  STRCMP_EQUAL("timeout", field(seen, "reason").c_str());
}

TEST(Game, ASeatIsBoundToItsTokenNotToTheNick) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "hijack", "ann");
  auto bob = server.join(client, "hijack", "bob");
  next_state(*ann);
  // Each player got a token of its own (128 random bits), sent to it alone.
  std::string anns_token = server.tokens["ann"];
  LONGS_EQUAL(32, anns_token.size());
  CHECK_TRUE(anns_token != server.tokens["bob"]);

  // Another client calling itself ann, without the token or with a wrong
  // one, while ann is connected and after she left: a spectator, told why.
  auto impostor = [&](const std::string& query) {
    auto c = client.connect(server.stored.port(), "/game/hijack?name=ann" + query);
    CHECK_TRUE(c->wait_open(3s));
    std::string state = next_state(*c);
    STRCMP_EQUAL("spectator", field(state, "role").c_str());
    STRCMP_EQUAL("ann", field(state, "x").c_str());
    STRCMP_CONTAINS("needs its token", field(next(*c), "error").c_str());
    c->send(R"({"type":"move","cell":0})");
    STRCMP_EQUAL("spectators cannot move", field(next(*c), "error").c_str());
    CHECK_TRUE(state.find(anns_token) == std::string::npos);
    return c;
  };
  impostor("");
  impostor("&token=" + server.tokens["bob"]);
  impostor("&token=" + std::string(32, '0'));
  ann->close(1000, "bye");
  CHECK_TRUE(ann->wait_closed(3s).has_value());
  auto mallory = impostor("");

  // The token holder gets her seat back, and plays.
  std::string back;
  auto again = server.join(client, "hijack", "ann", &back);
  STRCMP_EQUAL("x", field(back, "role").c_str());
  again->send(R"({"type":"move","cell":4,"id":"m"})");
  STRCMP_EQUAL("....x....", field(next_state(*again), "board").c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"m"})", next(*again).c_str());
  STRCMP_EQUAL("spectator", field(next_state(*mallory), "role").c_str());
}

TEST(Game, PlayersKeepTheirSeatsWhenTheGameRestartsUnderThem) {
  GameServer server;
  WsTestClient client;
  auto ann = server.join(client, "crashy", "ann");  // her token came on this connection
  auto bob = server.join(client, "crashy", "bob");
  next_state(*ann);
  auto eve = client.connect(server.stored.port(), "/game/crashy?name=ann");
  CHECK_TRUE(eve->wait_open(3s));
  STRCMP_EQUAL("spectator", field(next_state(*eve), "role").c_str());
  STRCMP_CONTAINS("needs its token", field(next(*eve), "error").c_str());

  eve->send("crash");
  // The spectator's request crashed the game: she is told so (1011). The
  // restarted game has the other connections: the ones that took the
  // seats keep them.
  auto closed = eve->wait_closed(5s);
  CHECK_TRUE(closed.has_value());
  LONGS_EQUAL(1011, closed->code);
  STRCMP_EQUAL("x", field(next_state(*ann), "role").c_str());
  STRCMP_EQUAL("o", field(next_state(*bob), "role").c_str());
  ann->send(R"({"type":"move","cell":4})");
  STRCMP_EQUAL("....x....", field(next_state(*ann), "board").c_str());
  STRCMP_EQUAL("....x....", field(next_state(*bob), "board").c_str());
}
