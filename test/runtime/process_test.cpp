// Pids, spawning, exit reasons.
#include <CppUTest/TestHarness.h>

#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Process){};

TEST(Process, PidIsComparableHashablePrintable) {
  Pid a(3, 1), b(3, 2), c(3, 1);
  CHECK(a == c);
  CHECK(a != b);
  CHECK(a < b);
  std::unordered_set<Pid> set{a, b, c};
  LONGS_EQUAL(2, set.size());
  std::ostringstream os;
  os << a;
  STRCMP_EQUAL("<0.3.1>", os.str().c_str());
  CHECK_FALSE(Pid().valid());
}

TEST(Process, BodyRunsAndEndsNormally) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  Pid watcher = rt.spawn([&](Process& self) -> Proc {
    Pid worker = self.spawn([&](Process&) -> Proc {
      log.add("ran");
      co_return;
    });
    self.monitor(worker);
    auto down = co_await self.receive<Down>();
    log.add(to_string(down.reason));
  });
  CHECK(watcher.valid());
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("ran,normal", log.joined().c_str());
}

TEST(Process, UncaughtExceptionEndsProcessWithReasonNamingIt) {
  Runtime rt({.schedulers = 1});
  ExitReason seen;
  rt.spawn([&](Process& self) -> Proc {
    Ref ref = self.monitor(self.spawn([](Process&) -> Proc {
      throw std::invalid_argument("bad input");
      co_return;
    }));
    auto down = co_await self.receive<Down>();
    CHECK(down.ref == ref);
    seen = down.reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(seen.kind() == ExitReason::Kind::error);
  STRCMP_EQUAL("std::invalid_argument: bad input", seen.detail().c_str());
}

TEST(Process, ExitWithReasonUnwindsTheBody) {
  Runtime rt({.schedulers = 1});
  ExitReason seen;
  bool destructor_ran = false;
  rt.spawn([&](Process& self) -> Proc {
    self.monitor(self.spawn([&](Process& child) -> Proc {
      struct Guard {
        bool& flag;
        ~Guard() { flag = true; }
      } guard{destructor_ran};
      child.exit(ExitReason::shutdown_with("done"));
      co_return;
    }));
    seen = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(destructor_ran);
  CHECK(seen == ExitReason::shutdown_with("done"));
  CHECK(seen.is_normal_exit());
}

TEST(Process, SendToDeadPidIsANoop) {
  Runtime rt({.schedulers = 1});
  SendResult result = SendResult::ok;
  rt.spawn([&](Process& self) -> Proc {
    Pid child = self.spawn([](Process&) -> Proc { co_return; });
    self.monitor(child);
    co_await self.receive<Down>();
    result = self.send(child, 42);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(result == SendResult::noproc);
}

TEST(Process, StalePidNeverReachesNewIncarnationInReusedSlot) {
  Runtime rt({.schedulers = 1});
  Pid old_pid, new_pid;
  int new_got = -1;
  rt.spawn([&](Process& self) -> Proc {
    old_pid = self.spawn([](Process&) -> Proc { co_return; });
    self.monitor(old_pid);
    co_await self.receive<Down>();
    Pid me = self.self();
    new_pid = self.spawn([&, me](Process& child) -> Proc {
      new_got = co_await child.receive<int>();
      child.send(me, Go{});
    });
    self.send(old_pid, 1);  // stale: must not arrive
    self.send(new_pid, 2);
    co_await self.receive<Go>();
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(old_pid.slot(), new_pid.slot());  // the slot was reused ...
  CHECK(old_pid != new_pid);                    // ... by a new generation
  LONGS_EQUAL(2, new_got);
}

TEST(Process, TasksNestAndPropagateValuesAndExceptions) {
  Runtime rt({.schedulers = 1});
  int value = 0;
  std::string caught;
  auto add_one = [](Process& self) -> Task<int> {
    int v = co_await self.receive<int>();
    co_return v + 1;
  };
  auto fails = [](Process&) -> Task<> {
    throw std::runtime_error("inner");
    co_return;
  };
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 41);
    value = co_await add_one(self);
    try {
      co_await fails(self);
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(42, value);
  STRCMP_EQUAL("inner", caught.c_str());
}
