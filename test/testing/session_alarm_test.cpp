// Session alarms (net/gateway/session.hpp, "Alarms") under SessionHarness,
// on virtual time: on a running session, on one the gateway starts for it
// after an idle stop, again after a crash in on_alarm, replaced or
// cancelled. Converted from test/net/alarm_test.cpp, which waited for them
// on the wall clock; the alarms that must survive a restart of the server
// (kept in a FileStore) and the keeper's reading of stored keys stay there.

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "persist/memory_store.hpp"
#include "runtime/clock.hpp"
#include "test/support/alarm_clock.hpp"
#include "testing/cpputest.hpp"
#include "testing/session_harness.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::SessionHarness;
using troupe::testing::SessionHarnessOptions;
using troupe::testing::TestRuntime;

namespace {

// What the sessions' alarms did.
struct Rings {
  struct Ring {
    std::string session;
    std::size_t connections;
    Duration at;  // virtual time since the start of the test
  };
  TestRuntime* t;
  std::vector<Ring> rings;
  int stops = 0;

  std::size_t ring(std::string session, std::size_t connections) {
    rings.push_back({std::move(session), connections, t->elapsed()});
    return rings.size();
  }
  void stopped() { ++stops; }
};

using Clock = troupe::test::AlarmClock<Rings>;

// A clock route, its alarms kept in a MemoryStore.
struct Clocks {
  explicit Clocks(Duration idle = 30s)
      : h(
            t, "clock/one", [this] { return std::make_unique<Clock>(&rings); },
            SessionHarnessOptions{.route = {.idle_timeout = idle}, .store = &store}) {}
  TestRuntime t;
  MemoryStore store{t.loop()};
  Rings rings{&t};
  SessionHarness<Clock> h;
};

}  // namespace

TEST_GROUP(SessionAlarm){};

TEST(SessionAlarm, FiresOnTheRunningSessionAtItsTimeAndIsCleared) {
  Clocks f;
  auto& c = f.h.connect();
  c.send("alarm:50");
  c.expect_frame("set");
  const Duration set_at = f.t.elapsed();
  CHECK(f.h.stored_keys("alarms/") == std::vector<std::string>{"alarms/clock/one"});
  f.t.advance(50ms - 1ns);
  c.expect_no_frame();
  f.t.advance(1ns);
  c.expect_frame("ring");
  c.send("when");
  c.expect_frame("none");
  LONGS_EQUAL(1, f.rings.rings.size());
  LONGS_EQUAL(1, f.rings.rings[0].connections);
  CHECK(f.rings.rings[0].at - set_at == 50ms);
  CHECK_TRUE(f.h.stored_keys("alarms/").empty());
}

TEST(SessionAlarm, StartsAnIdleStoppedSessionWithNoConnection) {
  Clocks f(50ms);
  auto& c = f.h.connect({.name = "sleeper"});
  c.send("alarm:600");
  c.expect_frame("set");
  c.disconnect();
  // It stops idle before its alarm ...
  f.t.advance(50ms);
  CHECK_FALSE(f.h.alive("sleeper"));
  LONGS_EQUAL(1, f.rings.stops);
  LONGS_EQUAL(0, f.rings.rings.size());
  // ... and the gateway starts it again for the alarm, which it serves alone.
  f.t.advance(550ms);
  LONGS_EQUAL(1, f.rings.rings.size());
  STRCMP_EQUAL("sleeper", f.rings.rings[0].session.c_str());
  LONGS_EQUAL(0, f.rings.rings[0].connections);
  // Then it stops idle again, its alarm cleared.
  f.t.advance(50ms);
  CHECK_FALSE(f.h.alive("sleeper"));
  LONGS_EQUAL(2, f.rings.stops);
  CHECK_TRUE(f.h.stored_keys("alarms/").empty());
}

TEST(SessionAlarm, ACrashInOnAlarmRunsItAgain) {
  Clocks f;
  auto& c = f.h.connect({.name = "crashy"});
  c.send("alarm:20");
  c.expect_frame("set");
  f.t.advance(20ms);
  // The first ring reached the client; the restarted incarnation rang before
  // the connection was handed to it, then cleared the alarm.
  c.expect_frame("ring");
  c.send("when");
  c.expect_frame("none");
  LONGS_EQUAL(2, f.rings.rings.size());
  LONGS_EQUAL(1, f.rings.rings[0].connections);
  LONGS_EQUAL(0, f.rings.rings[1].connections);
  CHECK_TRUE(c.open());
  CHECK_TRUE(f.h.stored_keys("alarms/").empty());
}

TEST(SessionAlarm, ALaterAlarmReplacesAnEarlierOneAndCancelledOnesNeverRing) {
  Clocks f;
  auto& a = f.h.connect({.name = "a"});
  auto& b = f.h.connect({.name = "b"});
  // a: 50 ms, replaced by 400 ms; b: 200 ms then cancelled, then 300 ms.
  a.send("alarm:50");
  a.expect_frame("set");
  a.send("alarm:400");
  a.expect_frame("set");
  b.send("alarm:200");
  b.expect_frame("set");
  b.send("cancel");
  b.expect_frame("cancelled");
  b.send("alarm:300");
  b.expect_frame("set");
  f.t.advance(1s);
  LONGS_EQUAL(2, f.rings.rings.size());
  STRCMP_EQUAL("b", f.rings.rings[0].session.c_str());
  CHECK(f.rings.rings[0].at == 300ms);  // no time passed while the alarms were set
  STRCMP_EQUAL("a", f.rings.rings[1].session.c_str());
  CHECK(f.rings.rings[1].at == 400ms);
  a.expect_frame("ring");
  b.expect_frame("ring");
  a.expect_no_frame();
  b.expect_no_frame();
}
