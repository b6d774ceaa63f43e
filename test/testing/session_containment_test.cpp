// A name whose session cannot start (RouteOptions::crash, CrashPolicy) under
// SessionHarness, on virtual time: its quick crashes back off, then the name
// is refused (1013 to its clients, 503 before the upgrade) for refuse_for,
// and serves again once the refusal has passed. Converted from
// test/net/containment_test.cpp, which polled the end of the refusal on the
// wall clock; the 1013 and 503 on the wire stay tested there.

#include <CppUTest/TestHarness.h>

#include <stdexcept>

#include "testing/cpputest.hpp"
#include "testing/session_harness.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::SessionHarness;
using troupe::testing::TestRuntime;

namespace {

// Cannot start while `broken` (its store is down, say).
struct Flaky : Session<Flaky> {
  explicit Flaky(const bool* broken, int* starts) : broken(broken), starts(starts) {}
  const bool* broken;
  int* starts;
  void on_start() {
    ++*starts;
    if (*broken) throw std::runtime_error("store down");
  }
  void on_message(Connection& c, std::string_view text, MessageKind) { c.send(text); }
};

}  // namespace

TEST_GROUP(SessionContainment){};

TEST(SessionContainment, ARefusedNameIsTriedAgainAfterItsRefusal) {
  TestRuntime t;
  bool broken = true;
  int starts = 0;
  CrashPolicy crash;
  crash.backoff.jitter = 0;
  crash.refuse_for = 300ms;
  SessionHarness<Flaky> h(t, "r/room", [&] { return std::make_unique<Flaky>(&broken, &starts); },
                          {.route = {.crash = crash}});
  auto& first = h.connect();
  // Five quick crashes: at once, then after 100, 200, 400 ms of backoff;
  // the fifth refuses the name and tells its client to come back later.
  t.advance(699ms);
  CHECK_TRUE(first.open());
  LONGS_EQUAL(4, starts);
  t.advance(1ms);
  LONGS_EQUAL(5, starts);
  auto closed = first.expect_closed();
  LONGS_EQUAL(close_code::try_again_later, closed.code);
  CHECK(closed.reason.find("try again later") != std::string::npos);
  LONGS_EQUAL(503, h.connect().refused()->status);
  // The outage ends; the name is still refused until refuse_for has passed.
  broken = false;
  t.advance(299ms);
  LONGS_EQUAL(503, h.connect().refused()->status);
  t.advance(1ms);
  auto& again = h.connect();
  again.send("back");
  again.expect_frame("back");
  LONGS_EQUAL(6, starts);  // nothing else was restarted meanwhile
}
