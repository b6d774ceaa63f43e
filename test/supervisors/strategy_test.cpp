// Strategies, restart types, restart intensity and escalation.
#include <CppUTest/TestHarness.h>

#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

SupervisorSpec three_workers(Strategy strategy, Pid observer, int intensity = 10) {
  return SupervisorSpec{.strategy = strategy,
                        .intensity = intensity,
                        .period = 10s,
                        .children = {worker_spec("a", observer), worker_spec("b", observer),
                                     worker_spec("c", observer)}};
}

// Crashes `id` and collects the reports that follow until `starts` workers
// have started again: "stop:x" for Stopped, "start:x" for Started.
Task<std::string> crash_and_collect(Process& self, const std::string& id, std::size_t starts) {
  cast(self, id, Crash{});
  std::string out;
  std::size_t seen = 0;
  while (seen < starts) {
    co_await self.receive([&](Stopped& s) { out += (out.empty() ? "" : ",") + ("stop:" + s.id); },
                          [&](Started& s) {
                            out += (out.empty() ? "" : ",") + ("start:" + s.id);
                            ++seen;
                          });
  }
  co_return out;
}

}  // namespace

TEST_GROUP(Supervisor) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(Supervisor, StartsChildrenInOrder) {
  Runtime rt({.schedulers = 2});
  std::string order;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_supervisor(self, three_workers(one_for_one, self.self()));
    for (int i = 0; i < 3; ++i) order += (co_await next_started(self)).id;
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("abc", order.c_str());
}

TEST(Supervisor, OneForOneRestartsOnlyTheCrashedChild) {
  Runtime rt({.schedulers = 2});
  std::string seen;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid sup = co_await start_and_wait(self, three_workers(one_for_one, self.self()), 3);
    seen = co_await crash_and_collect(self, "b", 1);
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("stop:b,start:b", seen.c_str());
  STRCMP_EQUAL(
      "child_crashed:b,child_restarted:b",
      recorder
          ->summary({SupervisorEvent::Kind::child_crashed, SupervisorEvent::Kind::child_restarted})
          .c_str());
}

TEST(Supervisor, OneForAllRestartsEveryChild) {
  Runtime rt({.schedulers = 2});
  std::string seen;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid sup = co_await start_and_wait(self, three_workers(one_for_all, self.self()), 3);
    seen = co_await crash_and_collect(self, "b", 3);
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  // b crashed; the others stop last-started first, then all start in order.
  STRCMP_EQUAL("stop:b,stop:c,stop:a,start:a,start:b,start:c", seen.c_str());
}

TEST(Supervisor, RestForOneRestartsLaterSiblingsOnly) {
  Runtime rt({.schedulers = 2});
  std::string seen;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid sup = co_await start_and_wait(self, three_workers(rest_for_one, self.self()), 3);
    seen = co_await crash_and_collect(self, "b", 2);
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("stop:b,stop:c,start:b,start:c", seen.c_str());
}

TEST(Supervisor, PermanentChildIsRestartedAfterANormalExit) {
  Runtime rt({.schedulers = 2});
  std::string seen;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {worker_spec("p", self.self(), permanent)}};
    Pid sup = co_await start_and_wait(self, spec, 1);
    cast(self, "p", Crash{troupe::normal});
    co_await next_stopped(self);
    seen = (co_await next_started(self)).id;
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("p", seen.c_str());
  LONGS_EQUAL(0, recorder->count(SupervisorEvent::Kind::child_crashed));  // normal: no crash
}

TEST(Supervisor, TransientChildIsRestartedOnlyAfterAnAbnormalExit) {
  Runtime rt({.schedulers = 2});
  std::vector<ChildInfo> after_normal, after_shutdown;
  std::string restarted;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.intensity = 5,
                        .children = {worker_spec("t", self.self(), transient),
                                     worker_spec("u", self.self(), transient),
                                     worker_spec("v", self.self(), transient)}};
    Pid sup = co_await start_and_wait(self, spec, 3);
    cast(self, "t", Crash{troupe::normal});
    co_await next_stopped(self);
    cast(self, "u", Crash{ExitReason::shutdown_with("done")});
    co_await next_stopped(self);
    cast(self, "v", Crash{ExitReason::error("bug")});
    co_await next_stopped(self);
    restarted = (co_await next_started(self)).id;
    after_normal = (co_await which_children(self, sup)).value();
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("v", restarted.c_str());
  LONGS_EQUAL(3, after_normal.size());  // transient specs stay, not running
  CHECK_FALSE(after_normal[0].pid.valid());
  CHECK_FALSE(after_normal[1].pid.valid());
  CHECK(after_normal[2].pid.valid());
}

TEST(Supervisor, TemporaryChildIsNeverRestartedAndIsForgotten) {
  Runtime rt({.schedulers = 2});
  ChildCounts counts;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{
        .children = {worker_spec("keep", self.self()), worker_spec("tmp", self.self(), temporary)}};
    Pid sup = co_await start_and_wait(self, spec, 2);
    cast(self, "tmp", Crash{});
    co_await next_stopped(self);
    counts = (co_await count_children(self, sup)).value();  // served after the exit
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(1, counts.specs);
  LONGS_EQUAL(1, counts.active);
  LONGS_EQUAL(0, recorder->count(SupervisorEvent::Kind::child_restarted));
  LONGS_EQUAL(1, recorder->count(SupervisorEvent::Kind::child_crashed));
}

TEST(Supervisor, NamedChildIsFoundUnderTheSameNameAfterARestart) {
  Runtime rt({.schedulers = 2});
  Pid first, second;
  std::string answer;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {worker_spec("named", self.self())}};
    Pid sup = co_await start_and_wait(self, spec, 1);
    first = self.runtime().registry().whereis("named");
    cast(self, "named", Crash{});
    second = (co_await next_started(self)).pid;  // registered before init ran
    auto r = co_await call(self, "named", WhoAmI{});
    if (r) answer = *r;
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(first.valid() && second.valid());
  CHECK(first != second);
  STRCMP_EQUAL("named", answer.c_str());
}

TEST(Supervisor, ExceedingIntensityStopsTheChildrenAndExits) {
  Runtime rt({.schedulers = 2});
  ExitReason sup_reason;
  std::string stops;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid sup = co_await start_and_wait(self, three_workers(one_for_one, self.self(), 1), 3);
    cast(self, "a", Crash{});
    co_await next_stopped(self);
    co_await next_started(self);  // one restart is allowed
    cast(self, "a", Crash{});     // the second within the period is not
    bool done = false;
    while (!done)
      co_await self.receive([&](Stopped& s) { stops += s.id; },
                            [&](Exit& e) {
                              if (e.from == sup) {
                                sup_reason = e.reason;
                                done = true;
                              }
                            });
  });
  CHECK(rt.run_for(run_limit));
  CHECK(sup_reason == ExitReason::shutdown_with("reached_max_restart_intensity"));
  STRCMP_EQUAL("acb", stops.c_str());  // a crashed; then c and b, in reverse order
  LONGS_EQUAL(1, recorder->count(SupervisorEvent::Kind::intensity_exceeded));
}

TEST(Supervisor, EscalationThroughThreeLevelsEndsTheTree) {
  Runtime rt({.schedulers = 2});
  ExitReason root_reason;
  std::vector<std::string> gave_up;
  std::string stops;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    SupervisorSpec leaf{.intensity = 0, .children = {worker_spec("w1", me), worker_spec("w2", me)}};
    SupervisorSpec mid{
        .intensity = 0,
        .children = {worker_spec("m", me),
                     {.id = "leaf", .start = supervisor_child(leaf), .type = supervisor}}};
    SupervisorSpec root{
        .intensity = 0,
        .children = {worker_spec("r", me),
                     {.id = "mid", .start = supervisor_child(mid), .type = supervisor}}};
    Pid sup = co_await start_and_wait(self, root, 4);
    cast(self, "w2", Crash{});
    co_await self.receive(when([sup](const Exit& e) { return e.from == sup; },
                               [&](Exit& e) { root_reason = e.reason; }));
    while (auto s = co_await self.receive<Stopped>(0ms)) stops += s->id + " ";
  });
  CHECK(rt.run_for(run_limit));
  CHECK(root_reason == ExitReason::shutdown_with("reached_max_restart_intensity"));
  // Each level gives up in turn, stopping what it has left in reverse order.
  STRCMP_EQUAL("intensity_exceeded:w2,intensity_exceeded:leaf,intensity_exceeded:mid",
               recorder->summary({SupervisorEvent::Kind::intensity_exceeded}).c_str());
  STRCMP_EQUAL("w2 w1 m r ", stops.c_str());
}

TEST(Supervisor, EscalationStopsAtALevelThatMayRestart) {
  Runtime rt({.schedulers = 2});
  std::string restarted;
  Pid old_w1, new_w1;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    SupervisorSpec leaf{.intensity = 0, .children = {worker_spec("w1", me), worker_spec("w2", me)}};
    SupervisorSpec mid{
        .intensity = 0,
        .children = {{.id = "leaf", .start = supervisor_child(leaf), .type = supervisor}}};
    SupervisorSpec root{
        .intensity = 5,
        .children = {worker_spec("r", me),
                     {.id = "mid", .start = supervisor_child(mid), .type = supervisor}}};
    Pid sup = co_await start_and_wait(self, root, 3);
    old_w1 = self.runtime().registry().whereis("w1");
    cast(self, "w2", Crash{});
    // The root restarts the mid subtree, which starts the leaf's workers again.
    for (int i = 0; i < 2;) {
      co_await self.receive([&](Stopped&) {},
                            [&](Started& s) {
                              restarted += s.id + " ";
                              ++i;
                            });
    }
    new_w1 = self.runtime().registry().whereis("w1");
    self.exit(sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("w1 w2 ", restarted.c_str());
  CHECK(new_w1.valid() && new_w1 != old_w1);
  STRCMP_EQUAL("child_restarted:mid",
               recorder->summary({SupervisorEvent::Kind::child_restarted}).c_str());
}

TEST(Supervisor, FailedStartIsReportedDistinctFromACrash) {
  Runtime rt({.schedulers = 2});
  StartError error;
  std::string stops;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    auto always_fail = std::make_shared<std::atomic<int>>(1'000'000);
    SupervisorSpec spec{
        .children = {worker_spec("ok", me),
                     {.id = "bad", .start = server_child<Worker>("bad", me, always_fail)},
                     worker_spec("never", me)}};
    auto r = co_await start_supervisor(self, spec);
    if (!r) error = r.error();
    while (auto s = co_await self.receive<Stopped>(0ms)) stops += s->id;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(error.kind == StartError::Kind::failed);
  STRCMP_EQUAL("{shutdown, failed_to_start_child bad: {error, std::runtime_error: init failed}}",
               to_string(error.reason).c_str());
  STRCMP_EQUAL("ok", stops.c_str());  // started ones are stopped; "never" never started
  STRCMP_EQUAL(
      "start_failed:bad",
      recorder->summary({SupervisorEvent::Kind::start_failed, SupervisorEvent::Kind::child_crashed})
          .c_str());
}

TEST(Supervisor, FailedRestartIsRetriedAndCountsAgainstIntensity) {
  Runtime rt({.schedulers = 2});
  ExitReason sup_reason;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    auto fails = std::make_shared<std::atomic<int>>(0);
    SupervisorSpec spec{
        .intensity = 3,
        .children = {
            {.id = "flaky", .start = server_child<Worker>("flaky", me, fails), .name = "flaky"}}};
    Pid sup = co_await start_and_wait(self, spec, 1);
    fails->store(1'000'000);  // every restart fails from now on
    cast(self, "flaky", Crash{});
    co_await self.receive(when([sup](const Exit& e) { return e.from == sup; },
                               [&](Exit& e) { sup_reason = e.reason; }));
  });
  CHECK(rt.run_for(run_limit));
  CHECK(sup_reason == ExitReason::shutdown_with("reached_max_restart_intensity"));
  LONGS_EQUAL(1, recorder->count(SupervisorEvent::Kind::child_crashed));
  LONGS_EQUAL(3, recorder->count(SupervisorEvent::Kind::start_failed));  // 3 allowed restarts
  LONGS_EQUAL(1, recorder->count(SupervisorEvent::Kind::intensity_exceeded));
}

TEST(Supervisor, IgnoredChildIsKeptButNotRunning) {
  struct Ignorer : Server<Ignorer> {
    void init() { ignore(); }
  };
  Runtime rt({.schedulers = 1});
  std::vector<ChildInfo> children;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {{.id = "ign", .start = server_child<Ignorer>()}}};
    auto sup = co_await start_supervisor(self, spec);
    children = (co_await which_children(self, *sup)).value();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(1, children.size());
  CHECK_FALSE(children[0].pid.valid());
}

TEST(Supervisor, InvalidSpecFailsTheStart) {
  Runtime rt({.schedulers = 1});
  StartError error;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {worker_spec("x", self.self()), worker_spec("x", self.self())}};
    auto r = co_await start_supervisor(self, spec);
    if (!r) error = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(error.reason == ExitReason::error("invalid supervisor spec: duplicate child id x"));
}
