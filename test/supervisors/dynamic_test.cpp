// Dynamic supervisors, and child management on static ones.
#include <CppUTest/TestHarness.h>

#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {
ChildSpec session(const std::string& id, Pid observer, Restart restart = permanent) {
  return ChildSpec{.id = id,
                   .start = server_child<Worker>(id, observer),
                   .restart = restart,
                   .shutdown = 1s,
                   .name = id};
}
}  // namespace

TEST_GROUP(DynamicSupervisor) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(DynamicSupervisor, StartsChildrenOnDemandAndCountsThem) {
  Runtime rt({.schedulers = 2});
  ChildCounts counts;
  std::vector<ChildInfo> children;
  int started = 0;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {}, "sessions");
    for (const char* id : {"s1", "s2", "s3"}) {
      auto r = co_await start_child(self, "sessions", session(id, self.self()));
      started += r.ok();
    }
    counts = (co_await count_children(self, "sessions")).value();
    children = (co_await which_children(self, *sup)).value();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(3, started);
  LONGS_EQUAL(3, counts.specs);
  LONGS_EQUAL(3, counts.active);
  LONGS_EQUAL(3, counts.workers);
  LONGS_EQUAL(3, children.size());
  STRCMP_EQUAL("s2", children[1].id.c_str());
}

TEST(DynamicSupervisor, MaxChildrenRefusesMore) {
  Runtime rt({.schedulers = 1});
  ChildError error;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {.max_children = 2});
    co_await start_child(self, *sup, session("a", self.self()));
    co_await start_child(self, *sup, session("b", self.self()));
    auto r = co_await start_child(self, *sup, session("c", self.self()));
    if (!r) error = r.error();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(error.kind == ChildError::Kind::max_children);
}

TEST(DynamicSupervisor, TerminateChildStopsAndRemovesIt) {
  Runtime rt({.schedulers = 2});
  ExitReason reason;
  std::size_t left = 99;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {});
    Pid child = (co_await start_child(self, *sup, session("gone", self.self()))).value();
    co_await start_child(self, *sup, session("stays", self.self()));
    auto done = co_await terminate_child(self, *sup, child);
    if (done) reason = (co_await next_stopped(self)).reason;
    left = (co_await which_children(self, *sup)).value().size();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == troupe::shutdown);
  LONGS_EQUAL(1, left);
}

TEST(DynamicSupervisor, CrashedPermanentChildIsRestartedUnderItsName) {
  Runtime rt({.schedulers = 2});
  Pid before, after;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {});
    before = (co_await start_child(self, *sup, session("room/1", self.self()))).value();
    co_await next_started(self);
    cast(self, "room/1", Crash{});
    after = (co_await next_started(self)).pid;
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(after.valid() && after != before);
}

TEST(DynamicSupervisor, TemporaryChildIsRemovedWhenItEnds) {
  Runtime rt({.schedulers = 2});
  std::size_t left = 99;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {});
    co_await start_child(self, *sup, session("t", self.self(), temporary));
    cast(self, "t", Crash{});
    co_await next_stopped(self);
    left = (co_await which_children(self, *sup)).value().size();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(0, left);
}

TEST(DynamicSupervisor, StopsAllChildrenWhenItStops) {
  Runtime rt({.schedulers = 2});
  int stopped = 0;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {});
    for (int i = 0; i < 50; ++i)
      co_await start_child(self, *sup, session("d" + std::to_string(i), self.self()));
    self.exit(*sup, troupe::shutdown);
    for (int i = 0; i < 50; ++i) {
      co_await next_stopped(self);
      ++stopped;
    }
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(50, stopped);
}

TEST(DynamicSupervisor, FailedStartIsAnErrorAndLeavesNoChild) {
  Runtime rt({.schedulers = 1});
  ChildError error;
  std::size_t left = 99;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto sup = co_await start_dynamic_supervisor(self, {});
    auto fail = std::make_shared<std::atomic<int>>(1);
    auto r = co_await start_child(
        self, *sup, {.id = "f", .start = server_child<Worker>("f", self.self(), fail)});
    if (!r) error = r.error();
    left = (co_await which_children(self, *sup)).value().size();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(error.kind == ChildError::Kind::start_failed);
  STRCMP_EQUAL("start_failed: {error, std::runtime_error: init failed}", to_string(error).c_str());
  LONGS_EQUAL(0, left);
}

TEST_GROUP(StaticChildren) {
  EventRecorder* recorder = nullptr;
  void setup() override {
    recorder = new EventRecorder;
  }
  void teardown() override {
    delete recorder;
  }
};

TEST(StaticChildren, StartChildAppendsAndRefusesATakenId) {
  Runtime rt({.schedulers = 1});
  ChildError duplicate;
  std::vector<ChildInfo> children;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {session("first", self.self())}};
    auto sup = co_await start_supervisor(self, spec);
    co_await start_child(self, *sup, session("second", self.self()));
    auto r = co_await start_child(self, *sup, session("second", self.self()));
    if (!r) duplicate = r.error();
    children = (co_await which_children(self, *sup)).value();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(duplicate.kind == ChildError::Kind::already_started);
  LONGS_EQUAL(2, children.size());
  STRCMP_EQUAL("second", children[1].id.c_str());
}

TEST(StaticChildren, TerminateRestartAndDeleteById) {
  Runtime rt({.schedulers = 1});
  bool terminated = false, deleted_while_running = true, restarted = false, deleted = false;
  std::size_t left = 99;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.children = {session("x", self.self())}};
    auto sup = co_await start_supervisor(self, spec);
    deleted_while_running = (co_await delete_child(self, *sup, "x")).ok();
    terminated = (co_await terminate_child(self, *sup, "x")).ok();
    restarted = (co_await restart_child(self, *sup, "x")).ok();
    co_await terminate_child(self, *sup, "x");
    deleted = (co_await delete_child(self, *sup, "x")).ok();
    left = (co_await which_children(self, *sup)).value().size();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK_FALSE(deleted_while_running);
  CHECK(terminated);
  CHECK(restarted);
  CHECK(deleted);
  LONGS_EQUAL(0, left);
}

TEST(StaticChildren, ProcessChildIsRegisteredAndRestarted) {
  Runtime rt({.schedulers = 2});
  Pid first, second;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid me = self.self();
    SupervisorSpec spec{.children = {{.id = "plain",
                                      .start = process_child([me](Process& p) -> Proc {
                                        p.send(me, p.self());
                                        co_await p.receive([](const Stop&) {});
                                        p.exit(ExitReason::error("stopped"));
                                      }),
                                      .name = "plain"}}};
    auto sup = co_await start_supervisor(self, spec);
    first = co_await self.receive<Pid>();
    self.runtime().send("plain", Stop{});
    second = co_await self.receive<Pid>();
    self.exit(*sup, troupe::shutdown);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(first.valid() && second.valid() && first != second);
}
