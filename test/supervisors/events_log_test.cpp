// Supervisor reports reach the log sink by default.
#include <CppUTest/TestHarness.h>

#include "runtime/log.hpp"
#include "test/supervisors/sup_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {
struct Kept {
  LogLevel level;
  std::string component, message, child, reason;
};
}  // namespace

TEST_GROUP(SupervisorLogSink){};

TEST(SupervisorLogSink, ACrashIsAnErrorRecordOfComponentSupervisor) {
  std::mutex mutex;
  std::vector<Kept> kept;
  set_supervisor_log(log_supervisor_event);  // the default hook
  set_log_sink([&](const LogRecord& r) {
    Kept k{r.level, std::string(r.component), std::string(r.message), {}, {}};
    for (const LogField& f : r.fields) {
      if (f.key == "child") k.child = f.value;
      if (f.key == "reason") k.reason = f.value;
    }
    std::lock_guard lock(mutex);
    kept.push_back(std::move(k));
  });
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
  set_log_sink(nullptr);
  std::lock_guard lock(mutex);
  const Kept* crashed = nullptr;
  for (const auto& k : kept) {
    STRCMP_EQUAL("supervisor", k.component.c_str());
    CHECK(k.message != "child_started");  // debug: below the default level
    if (k.message == "child_crashed") crashed = &k;
  }
  CHECK(crashed != nullptr);
  CHECK(crashed->level == LogLevel::error);
  STRCMP_EQUAL("w", crashed->child.c_str());
  STRCMP_EQUAL("{error, crash}", crashed->reason.c_str());
}
