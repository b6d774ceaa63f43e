// Supervisor reports reach the log sink by default.
#include <CppUTest/TestHarness.h>

#include "runtime/log.hpp"
#include "test/support/log_recorder.hpp"
#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(SupervisorLogSink){};

TEST(SupervisorLogSink, ACrashIsAnErrorRecordOfComponentSupervisor) {
  set_supervisor_log(log_supervisor_event);  // the default hook
  LogRecorder recorder;
  Runtime rt({.schedulers = 2});
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {worker_spec("w", self.self())}};
    auto sup = co_await start_supervisor(self, spec);
    co_await next_started(self);
    cast(self, "w", Crash{});
    co_await next_started(self);
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  const std::vector<KeptRecord> kept = recorder.kept();
  const KeptRecord* crashed = nullptr;
  for (const auto& k : kept) {
    STRCMP_EQUAL("supervisor", k.component.c_str());
    CHECK(k.message != "child_started");  // debug: below the default level
    if (k.message == "child_crashed") crashed = &k;
  }
  CHECK(crashed != nullptr);
  CHECK(crashed->level == LogLevel::error);
  STRCMP_EQUAL("w", crashed->field("child").c_str());
  STRCMP_EQUAL("{error, crash}", crashed->field("reason").c_str());
}
