// Shutdown: reverse order, brutal_kill, timeouts, infinity, auto_shutdown;
// on virtual time (troupe::testing), so a child that lingers past its
// shutdown timeout does so by an exact margin, not a race with the clock.
#include <CppUTest/TestHarness.h>

#include <map>

#include "test/support/supervisor_helpers.hpp"
#include "testing/cpputest.hpp"
#include "testing/test_runtime.hpp"

using namespace troupe;
using namespace troupe::test;
using troupe::testing::TestRuntime;

namespace {

struct Reported {
  std::string id;
  Pid pid;
};

// A child that traps exits and reports itself; on a shutdown signal it
// takes `linger` before it ends (forever if linger is negative).
ChildStart lingering_child(std::string id, Pid observer, Duration linger) {
  return process_child([id, observer, linger](Process& self) -> Proc {
    self.trap_exit(true);
    self.send(observer, Reported{id, self.self()});
    co_await self.receive([](Exit&) {});
    if (linger < Duration::zero()) co_await self.receive([](const Stop&) {});
    co_await self.sleep_for(linger);
    self.exit(troupe::shutdown);
  });
}

// Starts a supervisor with `spec`, collects the Reported pids of `n`
// children, stops the supervisor and returns each child's exit reason, by
// child id (the children report in any order: they are different senders).
Task<std::map<std::string, ExitReason>> stop_and_collect(Process& self, SupervisorSpec spec,
                                                         std::size_t n) {
  auto sup = co_await start_supervisor(self, std::move(spec));
  std::vector<std::pair<std::string, Ref>> refs;
  for (std::size_t i = 0; i < n; ++i) {
    Reported r = co_await self.receive<Reported>();
    refs.emplace_back(r.id, self.monitor(r.pid));
  }
  self.exit(*sup, troupe::shutdown);
  std::map<std::string, ExitReason> reasons;
  for (auto& [id, ref] : refs)
    reasons[id] = co_await self.receive(when([ref = ref](const Down& d) { return d.ref == ref; },
                                             [](Down& d) { return d.reason; }));
  co_return reasons;
}

}  // namespace

TEST_GROUP(SupervisorShutdown) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(SupervisorShutdown, ChildrenStopInReverseOrder) {
  TestRuntime t;
  std::string stops;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    SupervisorSpec spec{
        .children = {worker_spec("a", me), worker_spec("b", me), worker_spec("c", me)}};
    auto sup = co_await start_supervisor(self, spec);
    for (int i = 0; i < 3; ++i) co_await next_started(self);
    self.exit(*sup, troupe::shutdown);  // the parent's exit signal
    for (int i = 0; i < 3; ++i) stops += (co_await next_stopped(self)).id;
  });
  CHECK(t.run_to_end());
  STRCMP_EQUAL("cba", stops.c_str());
}

TEST(SupervisorShutdown, BrutalKillKillsWithoutAskingFirst) {
  TestRuntime t;
  std::map<std::string, ExitReason> reasons;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {{.id = "k",
                                      .start = lingering_child("k", self.self(), -1ms),
                                      .shutdown = brutal_kill}}};
    reasons = co_await stop_and_collect(self, spec, 1);
  });
  CHECK(t.run_to_end());
  CHECK(reasons.at("k") == troupe::killed);
}

TEST(SupervisorShutdown, TimeoutSendsShutdownThenKillsAChildThatDoesNotEnd) {
  TestRuntime t;
  std::map<std::string, ExitReason> reasons;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    SupervisorSpec spec{
        .children = {
            {.id = "quick", .start = lingering_child("quick", me, 0ms), .shutdown = 5s},
            {.id = "stuck", .start = lingering_child("stuck", me, -1ms), .shutdown = 20ms}}};
    reasons = co_await stop_and_collect(self, spec, 2);
  });
  CHECK(t.run_to_end());
  CHECK(reasons.at("quick") == troupe::shutdown);  // ended on its own when asked
  CHECK(reasons.at("stuck") == troupe::killed);    // killed after its 20 ms
}

TEST(SupervisorShutdown, InfinityWaitsForTheChildToEnd) {
  TestRuntime t;
  std::map<std::string, ExitReason> reasons;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {{.id = "slow",
                                      .start = lingering_child("slow", self.self(), 30ms),
                                      .shutdown = infinity}}};
    reasons = co_await stop_and_collect(self, spec, 1);
  });
  CHECK(t.run_to_end());
  CHECK(reasons.at("slow") == troupe::shutdown);
}

TEST(SupervisorShutdown, AnySignificantChildEndingShutsTheSupervisorDown) {
  TestRuntime t;
  ExitReason sup_reason;
  std::string stops;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    ChildSpec job = worker_spec("job", me, transient);
    job.significant = true;
    SupervisorSpec spec{.children = {worker_spec("other", me), job},
                        .auto_shutdown = any_significant};
    auto sup = co_await start_supervisor(self, spec);
    for (int i = 0; i < 2; ++i) co_await next_started(self);
    cast(self, "job", Crash{troupe::normal});  // done: not restarted, and significant
    bool done = false;
    while (!done)
      co_await self.receive([&](Stopped& s) { stops += s.id + " "; },
                            [&](Exit& e) {
                              sup_reason = e.reason;
                              done = e.from == *sup;
                            });
  });
  CHECK(t.run_to_end());
  CHECK(sup_reason == ExitReason::shutdown_with("auto_shutdown"));
  STRCMP_EQUAL("job other ", stops.c_str());
}

TEST(SupervisorShutdown, AllSignificantWaitsForTheLastSignificantChild) {
  TestRuntime t;
  bool alive_after_first = false;
  ExitReason sup_reason;
  t.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    ChildSpec one = worker_spec("one", me, temporary), two = worker_spec("two", me, transient);
    one.significant = two.significant = true;
    SupervisorSpec spec{.children = {one, two, worker_spec("plain", me)},
                        .auto_shutdown = all_significant};
    auto sup = co_await start_supervisor(self, spec);
    for (int i = 0; i < 3; ++i) co_await next_started(self);
    cast(self, "one", Crash{});
    co_await next_stopped(self);
    alive_after_first = (co_await count_children(self, *sup)).ok();  // still serving
    cast(self, "two", Crash{troupe::normal});
    co_await self.receive(when([&](const Exit& e) { return e.from == *sup; },
                               [&](Exit& e) { sup_reason = e.reason; }));
  });
  CHECK(t.run_to_end());
  CHECK(alive_after_first);
  CHECK(sup_reason == ExitReason::shutdown_with("auto_shutdown"));
}

TEST(SupervisorShutdown, StartRootRunsATreeWithoutAParent) {
  TestRuntime t;
  std::string answer;
  ExitReason reason;
  t.spawn([&](Process& self) -> Proc {
    SupervisorSpec spec{.children = {worker_spec("rooted", self.self())}};
    Pid root = start_root(self.runtime(), spec, "root");
    co_await next_started(self);
    auto r = co_await call(self, "rooted", WhoAmI{});
    if (r) answer = *r;
    Ref ref = self.monitor(root);
    self.runtime().exit(root, troupe::shutdown);  // as an application would from outside
    reason = co_await self.receive(
        when([ref](const Down& d) { return d.ref == ref; }, [](Down& d) { return d.reason; }));
  });
  CHECK(t.run_to_end());
  STRCMP_EQUAL("rooted", answer.c_str());
  CHECK(reason == troupe::shutdown);
}
