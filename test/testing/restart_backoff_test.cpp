// Restart backoff at run time: delays, intensity and reset, on virtual
// time (troupe::testing), so the delays and windows are exact.
#include <CppUTest/TestHarness.h>

#include "test/support/supervisor_helpers.hpp"
#include "testing/cpputest.hpp"
#include "testing/test_runtime.hpp"

using namespace troupe;
using namespace troupe::test;
using troupe::testing::TestRuntime;

namespace {
ChildSpec backed_off(const std::string& id, Pid observer, Backoff b) {
  ChildSpec spec = worker_spec(id, observer);
  spec.backoff = b;
  return spec;
}
// A child under backoff `b`, crashed four times, each time once it is back;
// then the supervisor shuts down.
void crash_four_times(TestRuntime& t, Backoff b) {
  t.spawn([b](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.intensity = 10, .children = {backed_off("w", self.self(), b)}};
    auto sup = co_await start_supervisor(self, spec);
    co_await next_started(self);
    for (int i = 0; i < 4; ++i) {
      cast(self, "w", Crash{});
      co_await next_started(self);
    }
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(t.run_to_end());
}
std::vector<long> delays_ms(const EventRecorder& r) {
  std::vector<long> out;
  for (auto& e : r.events())
    if (e.kind == SupervisorEvent::Kind::restart_delayed)
      out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(e.delay).count());
  return out;
}
}  // namespace

TEST_GROUP(RestartBackoff) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(RestartBackoff, ConsecutiveRestartsWaitExponentiallyLonger) {
  TestRuntime t;
  crash_four_times(t, {.base = 2ms, .cap = 1s, .jitter = 0, .reset_after = 10s});
  auto d = delays_ms(*recorder);
  LONGS_EQUAL(4, d.size());
  LONGS_EQUAL(2, d[0]);
  LONGS_EQUAL(4, d[1]);
  LONGS_EQUAL(8, d[2]);
  LONGS_EQUAL(16, d[3]);
}

TEST(RestartBackoff, TheChildIsNotRunningDuringTheDelay) {
  TestRuntime t;
  std::vector<ChildInfo> during;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Backoff b{.base = 10s, .cap = 10s, .jitter = 0};
    SupervisorSpec spec{.children = {backed_off("w", self.self(), b)}};
    auto sup = co_await start_supervisor(self, spec);
    co_await next_started(self);
    cast(self, "w", Crash{});
    co_await next_stopped(self);
    during = (co_await which_children(self, *sup)).value();  // after the crash was handled
    self.exit(*sup, troupe::shutdown);  // a pending restart does not delay the shutdown
  });
  CHECK(t.run_to_end());
  LONGS_EQUAL(1, during.size());
  CHECK_FALSE(during[0].pid.valid());
  CHECK(during[0].restarting);
}

TEST(RestartBackoff, ACrashLoopWithBackoffStaysWithinIntensity) {
  // Intensity 2 per 100 ms. Without backoff, three immediate crashes would
  // exceed it; with restarts spaced by 60 ms it is never exceeded.
  TestRuntime t;
  int restarts = 0;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Backoff b{.base = 60ms, .cap = 60ms, .jitter = 0};
    SupervisorSpec spec{
        .intensity = 2, .period = 100ms, .children = {backed_off("w", self.self(), b)}};
    auto sup = co_await start_supervisor(self, spec);
    co_await next_started(self);
    for (int i = 0; i < 5; ++i) {
      cast(self, "w", Crash{});
      co_await next_started(self);
      ++restarts;
    }
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(t.run_to_end());
  LONGS_EQUAL(5, restarts);
  LONGS_EQUAL(0, recorder->count(SupervisorEvent::Kind::intensity_exceeded));
}

TEST(RestartBackoff, DelayResetsAfterTheChildStaysUp) {
  TestRuntime t;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Backoff b{.base = 2ms, .cap = 1s, .jitter = 0, .reset_after = 50ms};
    SupervisorSpec spec{.intensity = 10, .children = {backed_off("w", self.self(), b)}};
    auto sup = co_await start_supervisor(self, spec);
    co_await next_started(self);
    for (int i = 0; i < 2; ++i) {
      cast(self, "w", Crash{});
      co_await next_started(self);
    }
    co_await self.sleep_for(60ms);  // stays up longer than reset_after
    cast(self, "w", Crash{});
    co_await next_started(self);
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(t.run_to_end());
  auto d = delays_ms(*recorder);
  LONGS_EQUAL(3, d.size());
  LONGS_EQUAL(2, d[0]);
  LONGS_EQUAL(4, d[1]);  // crashed right after its restart: the delay doubles
  LONGS_EQUAL(2, d[2]);  // stayed up past reset_after: back to base
}

namespace {
// The restart delays of a child crashed four times under a jittered backoff.
std::vector<long> jittered_delays(std::uint64_t seed) {
  EventRecorder recorder;
  TestRuntime t(troupe::testing::TestOptions{.seed = seed});
  crash_four_times(t, {.base = 1s, .cap = 1min, .jitter = 0.5, .reset_after = 1h});
  std::vector<long> out;
  for (auto& e : recorder.events())
    if (e.kind == SupervisorEvent::Kind::restart_delayed)
      out.push_back(std::chrono::duration_cast<std::chrono::microseconds>(e.delay).count());
  return out;
}
}  // namespace

TEST(RestartBackoff, JitteredDelaysReplayFromTheSeed) {
  const auto first = jittered_delays(11);
  LONGS_EQUAL(4, first.size());
  CHECK(first == jittered_delays(11));
  CHECK(first != jittered_delays(12));
}
