#include <CppUTest/TestHarness.h>

#include <chrono>
#include <string>
#include <vector>

#include "testing/cpputest.hpp"
#include "testing/test_runtime.hpp"

using namespace std::chrono_literals;
using troupe::Pid;
using troupe::Proc;
using troupe::Process;
using troupe::testing::ExpectationFailed;
using troupe::testing::TestOptions;
using troupe::testing::TestRuntime;

namespace {

struct Ping {
  int n;
  Pid from;
  bool operator==(const Ping& o) const { return n == o.n; }
};
struct Pong {
  int n;
};

// Failures throw ExpectationFailed instead of failing the test, for tests
// of the failures themselves.
struct ThrowingFailures {
  ThrowingFailures() { troupe::testing::set_failure_handler({}); }
  ~ThrowingFailures() {
    troupe::testing::set_failure_handler(&troupe::testing::report_to_cpputest);
  }
};

Proc ponger(Process& self) {
  for (;;) co_await self.receive([&](const Ping& p) { self.send(p.from, Pong{p.n}); });
}

}  // namespace

TEST_GROUP(Kit){};

TEST(Kit, ExpectFollowsAMessageFromSenderToReceiver) {
  TestRuntime t;
  auto probe = t.probe();
  Pid pong = t.spawn(ponger);
  t.inject(Ping{7, probe.pid()}).from(probe.pid()).to(pong);
  t.expect<Ping>().from(probe.pid()).to(pong).with(Ping{7, {}});
  t.expect<Pong>().from(pong).to(probe.pid()).with([](const Pong& p) { return p.n == 7; });
  CHECK_EQUAL(7, probe.expect<Pong>(pong).n);
  probe.expect_nothing();
}

TEST(Kit, ExpectFailsOnAnotherTypeAndNamesTheSeed) {
  ThrowingFailures throwing;
  TestRuntime t(TestOptions{.seed = 42});
  auto probe = t.probe();
  Pid pong = t.spawn(ponger);
  t.runtime().send(pong, Ping{1, probe.pid()});
  try {
    t.expect<Ping>().to(probe.pid());
    FAIL("expect should have failed");
  } catch (const ExpectationFailed& e) {
    std::string what = e.what();
    CHECK(what.find("Pong") != std::string::npos);
    CHECK(what.find("seed=42") != std::string::npos);
  }
}

TEST(Kit, VirtualTimeFiresATimeoutWithoutWaiting) {
  TestRuntime t;
  bool timed_out = false;
  t.spawn([&](Process& self) -> Proc {
    co_await self.receive([](const Ping&) {}, troupe::after(1h, [&] { timed_out = true; }));
  });
  t.run();
  CHECK_FALSE(timed_out);
  t.advance(59min);
  CHECK_FALSE(timed_out);
  t.advance(1min);
  CHECK_TRUE(timed_out);
  CHECK(t.elapsed() == 1h);
}
