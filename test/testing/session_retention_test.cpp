// Retention (GatewayOptions::retention, docs/persist.md) under
// SessionHarness, on virtual time: the state of a name unused for the period
// is erased at the first sweep past it, not before, while a running name's
// is kept; a name with an alarm pending is kept; state from before
// retention was on gets a full period; records from a run with retention
// are dropped when it is off. Converted from test/net/retention_test.cpp,
// which polled the store every 10 ms for these; the /metrics counters and
// the erase racing real threads stay there.

#include <CppUTest/TestHarness.h>

#include <charconv>
#include <msgpack.hpp>
#include <optional>
#include <string>

#include "net/gateway/persistent_session.hpp"
#include "persist/memory_store.hpp"
#include "runtime/clock.hpp"
#include "testing/cpputest.hpp"
#include "testing/session_harness.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::SessionHarness;
using troupe::testing::SessionHarnessOptions;
using troupe::testing::TestRuntime;

namespace {

struct Tally {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// Sends its count on connect; "+" adds one and acknowledges it once
// written; "alarm" sets an alarm two hours ahead.
struct Counter : PersistentSession<Counter, Tally> {
  void on_connect(Connection& c, const ConnectInfo&) { c.send(std::to_string(state().n)); }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "alarm") {
      auto set = co_await set_alarm(system_now() + 2h);
      c.send(set ? "set" : "error");
      co_return;
    }
    mutate().n += 1;
    co_await commit_or_exit();
    c.send("ack " + std::to_string(state().n));
  }
};

using Counters = SessionHarness<Counter>;

SessionHarnessOptions with_retention(MemoryStore& store, Duration retention) {
  return {.route = {.idle_timeout = 1s},
          .store = &store,
          .retention = retention,
          .retention_sweep = 1min};
}

// `name` is used once: a client connects, adds one (expecting `expect`),
// and leaves; the session stops idle (1 s).
void use_once(TestRuntime& t, Counters& h, const std::string& name, long expect) {
  auto& c = h.connect({.name = name});
  c.expect_frame(std::to_string(expect - 1));
  c.send("+");
  c.expect_frame("ack " + std::to_string(expect));
  c.disconnect();
  t.advance(1s);
  CHECK_FALSE(h.alive(name));
}

std::size_t state_keys(Counters& h, const std::string& name) {
  return h.stored_keys(h.persistence()->actor_prefix("count/" + name)).size();
}

std::int64_t ms_of(const std::optional<std::string>& record) {
  std::int64_t ms = -1;
  if (record) std::from_chars(record->data(), record->data() + record->size(), ms);
  return ms;
}

std::int64_t now_ms(TestRuntime& t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.wall_now().time_since_epoch())
      .count();
}

}  // namespace

TEST_GROUP(SessionRetention){};

TEST(SessionRetention,
     StateUnusedForThePeriodIsErasedAtTheFirstSweepPastItWhileARunningNamesIsKept) {
  TestRuntime t;
  MemoryStore store(t.loop());
  Counters h(t, "count/old", with_retention(store, 1h));
  auto& live = h.connect({.name = "live"});
  live.expect_frame("0");
  live.send("+");
  live.expect_frame("ack 1");
  use_once(t, h, "old", 1);               // stopped at 1 s
  CHECK_TRUE(state_keys(h, "old") >= 2);  // head and a generation
  CHECK_EQUAL(now_ms(t), ms_of(h.stored_value("used/count/old")));
  // Sweeps every minute: the one at 60 min finds it used 59:59 ago...
  t.advance(60min - 1s);
  CHECK_TRUE(state_keys(h, "old") >= 2);
  // ...the one at 61 min erases it, its use record last.
  t.advance(1min);
  CHECK_EQUAL(0u, state_keys(h, "old"));
  CHECK_FALSE(h.stored_value("used/count/old").has_value());
  // "live" has run past the period: kept.
  CHECK_TRUE(state_keys(h, "live") >= 2);
  live.send("+");
  live.expect_frame("ack 2");
  // The erased name starts again from its initial state.
  use_once(t, h, "old", 1);
}

TEST(SessionRetention, RecentlyUsedStateIsKeptAndItsRecordHoldsItsLastStop) {
  TestRuntime t;
  MemoryStore store(t.loop());
  Counters h(t, "count/recent", with_retention(store, 1h));
  use_once(t, h, "recent", 1);
  t.advance(59min);
  use_once(t, h, "recent", 2);
  CHECK_EQUAL(now_ms(t), ms_of(h.stored_value("used/count/recent")));
  t.advance(59min);
  CHECK_TRUE(state_keys(h, "recent") >= 2);
}

TEST(SessionRetention, ANameWithAnAlarmPendingIsKept) {
  TestRuntime t;
  MemoryStore store(t.loop());
  Counters h(t, "count/waker", with_retention(store, 10min));
  use_once(t, h, "waker", 1);
  auto& c = h.connect({.name = "waker"});
  c.expect_frame("1");
  c.send("alarm");
  c.expect_frame("set");
  c.disconnect();
  use_once(t, h, "plain", 1);
  // Both are past the period at 20 min; only "plain" is erased.
  t.advance(20min);
  CHECK_EQUAL(0u, state_keys(h, "plain"));
  CHECK_TRUE(state_keys(h, "waker") >= 2);
  CHECK_EQUAL(1u, h.stored_keys("alarms/count/waker").size());
  CHECK_EQUAL(1u, h.stored_keys("used/count/waker").size());
}

TEST(SessionRetention, StateWithoutAUseRecordSurvivesTheFirstSweepAndLastsAFullPeriod) {
  TestRuntime t;
  MemoryStore store(t.loop());
  {
    Counters before(t, "count/legacy", with_retention(store, Duration::zero()));
    use_once(t, before, "legacy", 1);  // written before retention was on
    CHECK_TRUE(before.stored_keys("used/").empty());
  }
  t.advance(1h);
  Counters h(t, "count/legacy", with_retention(store, 1h));
  const std::int64_t started = now_ms(t);
  t.run();
  // The first sweep gave it a record from its own time, not the epoch...
  CHECK_EQUAL(started, ms_of(h.stored_value("used/count/legacy")));
  // ...so it lasts a full period from then (sweeps every minute).
  t.advance(59min);
  CHECK_TRUE(state_keys(h, "legacy") >= 2);
  t.advance(1min);
  CHECK_EQUAL(0u, state_keys(h, "legacy"));
}

TEST(SessionRetention, RecordsLeftFromARunWithRetentionAreDroppedWhenItIsOff) {
  TestRuntime t;
  MemoryStore store(t.loop());
  {
    Counters before(t, "count/then", with_retention(store, 1h));
    use_once(t, before, "then", 1);
    CHECK_EQUAL(1u, before.stored_keys("used/count/then").size());
  }
  Counters h(t, "count/then", with_retention(store, Duration::zero()));
  t.run();
  CHECK_TRUE(h.stored_keys("used/").empty());
  CHECK_TRUE(state_keys(h, "then") >= 2);
}
