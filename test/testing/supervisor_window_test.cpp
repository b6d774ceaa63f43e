// The restart intensity window, on virtual time (troupe::testing): a
// restart exactly one period old no longer counts, one a nanosecond younger
// does.
#include <CppUTest/TestHarness.h>

#include "test/support/supervisor_helpers.hpp"
#include "testing/cpputest.hpp"
#include "testing/test_runtime.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using namespace troupe::test;
using troupe::testing::TestRuntime;

TEST_GROUP(SupervisorWindow) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(SupervisorWindow, RestartsOlderThanThePeriodDoNotCount) {
  TestRuntime t;
  int restarts = 0;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{
        .intensity = 1, .period = 30ms, .children = {worker_spec("w", self.self())}};
    Pid sup = co_await start_and_wait(self, spec, 1);
    for (int i = 0; i < 3; ++i) {
      co_await self.sleep_for(30ms);  // the previous restart just leaves the window
      cast(self, "w", Crash{});
      co_await next_started(self);
      ++restarts;
    }
    self.exit(sup, troupe::shutdown);
  });
  CHECK(t.run_to_end());
  LONGS_EQUAL(3, restarts);
  LONGS_EQUAL(0, recorder->count(SupervisorEvent::Kind::intensity_exceeded));
}

TEST(SupervisorWindow, ARestartJustInsideThePeriodCounts) {
  TestRuntime t;
  int restarts = 0;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{
        .intensity = 1, .period = 30ms, .children = {worker_spec("w", self.self())}};
    co_await start_and_wait(self, spec, 1);
    for (int i = 0; i < 3; ++i) {
      co_await self.sleep_for(30ms - 1ns);  // the previous restart is still inside the window
      cast(self, "w", Crash{});
      const bool restarted = co_await self.receive([](const Started&) { return true; },
                                                   [](const Exit&) { return false; });
      if (!restarted) break;
      ++restarts;
    }
  });
  CHECK(t.run_to_end());
  LONGS_EQUAL(1, restarts);  // the second restart within 30 ms exceeds intensity 1
  LONGS_EQUAL(1, recorder->count(SupervisorEvent::Kind::intensity_exceeded));
}
