// Links, exit signals, trap_exit and monitors, with Erlang's semantics.
#include <CppUTest/TestHarness.h>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Spawns a process that waits for a message forever (or until signalled).
Pid spawn_idle(Process& self) {
  return self.spawn([](Process& p) -> Proc { co_await p.receive([](const Stop&) {}); });
}

Task<> crash_with(Process& self, std::string why) {
  self.exit(ExitReason::error(std::move(why)));
  co_return;
}

struct Marker {};

// Sends this process a marker and receives it. On a one-scheduler runtime a
// process that has exited delivered its exit signals and Downs before anyone
// else ran, so once the marker is back every one of them has been handled:
// an exit signal that was going to end this process has ended it by then.
Task<> handle_everything_delivered(Process& self) {
  self.send(self.self(), Marker{});
  co_await self.receive([](const Marker&) {});
}

}  // namespace

TEST_GROUP(Links){};

TEST(Links, AbnormalExitPropagatesToLinkedProcesses) {
  Runtime rt({.schedulers = 2});
  ExitReason partner_reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid partner = self.spawn([](Process& p) -> Proc {
      Pid crasher = p.spawn(
          [](Process& c) -> Proc {
            co_await c.receive([](const Go&) {});
            co_await crash_with(c, "boom");
          },
          {.placement = Placement::spread});
      p.link(crasher);
      p.send(crasher, Go{});
      co_await p.receive([](const Stop&) {});  // never arrives: the link kills us
    });
    self.monitor(partner);
    partner_reason = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(partner_reason == ExitReason::error("boom"));
}

TEST(Links, NormalExitDoesNotPropagate) {
  Runtime rt({.schedulers = 1});
  bool survived = false;
  rt.spawn([&](Process& self) -> Proc {
    Pid child = self.spawn_link([](Process&) -> Proc { co_return; });
    self.monitor(child);
    co_await self.receive<Down>();
    co_await handle_everything_delivered(self);
    survived = true;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(survived);
}

TEST(Links, TrapExitTurnsSignalsIntoMessages) {
  Runtime rt({.schedulers = 1});
  Exit got;
  Pid child;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    child = self.spawn_link([](Process& c) -> Proc { co_await crash_with(c, "oops"); });
    got = co_await self.receive<Exit>();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(got.from == child);
  CHECK(got.reason == ExitReason::error("oops"));
}

TEST(Links, KillIsUntrappableAndLinksSeeKilled) {
  Runtime rt({.schedulers = 1});
  ExitReason victim_reason, watcher_saw;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid victim = self.spawn([](Process& v) -> Proc {
      v.trap_exit(true);  // does not help against kill
      co_await v.receive([](const Stop&) {});
    });
    self.link(victim);
    Ref ref = self.monitor(victim);
    self.exit(victim, troupe::kill);
    co_await self.receive(when([ref](const Down& d) { return d.ref == ref; },
                               [&](Down& d) { victim_reason = d.reason; }));
    watcher_saw = (co_await self.receive<Exit>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(victim_reason == troupe::killed);
  CHECK(watcher_saw == troupe::killed);
}

TEST(Links, ExitSignalNormalIsIgnoredByNonTrappingProcess) {
  Runtime rt({.schedulers = 1});
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid target = spawn_idle(self);
    self.monitor(target);
    self.exit(target, troupe::normal);  // ignored
    self.send(target, Stop{});          // so it ends normally on Stop
    reason = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == troupe::normal);
}

TEST(Links, ExitSignalShutdownEndsNonTrappingProcess) {
  Runtime rt({.schedulers = 1});
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid target = spawn_idle(self);
    self.monitor(target);
    self.exit(target, troupe::shutdown);
    reason = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == troupe::shutdown);
}

TEST(Links, LinkingADeadProcessGivesNoproc) {
  Runtime rt({.schedulers = 1});
  Exit got;
  ExitReason untrapped;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    Pid gone = self.spawn([](Process&) -> Proc { co_return; });
    self.monitor(gone);
    co_await self.receive<Down>();
    self.link(gone);
    got = co_await self.receive<Exit>();
    // Without trapping, the same link attempt ends the caller with noproc.
    Pid p = self.spawn([gone](Process& c) -> Proc {
      c.link(gone);
      co_await c.receive([](const Stop&) {});
    });
    self.monitor(p);
    untrapped = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(got.reason == troupe::noproc);
  CHECK(untrapped == troupe::noproc);
}

TEST(Links, UnlinkStopsPropagation) {
  Runtime rt({.schedulers = 1});
  bool survived = false;
  rt.spawn([&](Process& self) -> Proc {
    Pid child = self.spawn([](Process& c) -> Proc {
      co_await c.receive([](const Go&) {});
      co_await crash_with(c, "late");
    });
    self.link(child);
    self.unlink(child);
    self.monitor(child);
    self.send(child, Go{});
    co_await self.receive<Down>();
    co_await handle_everything_delivered(self);
    survived = true;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(survived);
}

TEST_GROUP(Monitors){};

TEST(Monitors, DownCarriesRefPidAndReason) {
  Runtime rt({.schedulers = 2});
  Down got;
  Ref ref;
  Pid child;
  rt.spawn([&](Process& self) -> Proc {
    child = self.spawn([](Process& c) -> Proc { co_await crash_with(c, "x"); },
                       {.placement = Placement::spread});
    ref = self.monitor(child);
    got = co_await self.receive<Down>();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(got.ref == ref);
  CHECK(got.pid == child);
  // Either the real reason, or noproc if the child had already ended.
  CHECK(got.reason == ExitReason::error("x") || got.reason == troupe::noproc);
}

TEST(Monitors, MonitorOfDeadPidGivesImmediateNoprocDown) {
  Runtime rt({.schedulers = 1});
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid gone = self.spawn([](Process&) -> Proc { co_return; });
    self.monitor(gone);
    co_await self.receive<Down>();
    self.monitor(gone);
    auto down = co_await self.receive<Down>(0ms);  // already there: no waiting
    if (down) reason = down->reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == troupe::noproc);
}

TEST(Monitors, DemonitorMeansNoDownEvenIfAlreadyQueued) {
  Runtime rt({.schedulers = 1});
  bool got_down = true;
  rt.spawn([&](Process& self) -> Proc {
    Pid child = self.spawn([](Process&) -> Proc { co_return; });
    Ref ref = self.monitor(child);
    Ref other = self.monitor(self.spawn([](Process&) -> Proc { co_return; }));
    // Wait until the second Down is here: the first is queued before it.
    co_await self.receive(when([other](const Down& d) { return d.ref == other; }, [](Down&) {}));
    self.demonitor(ref);
    got_down = (co_await self.receive<Down>(0ms)).has_value();
  });
  CHECK(rt.run_for(run_limit));
  CHECK_FALSE(got_down);
}

TEST(Monitors, DemonitorBeforeExitMeansNoDown) {
  Runtime rt({.schedulers = 2});
  bool got_down = true;
  rt.spawn([&](Process& self) -> Proc {
    Pid child = spawn_idle(self);
    Ref ref = self.monitor(child);
    self.demonitor(ref);
    Ref second = self.monitor(child);
    self.send(child, Stop{});
    co_await self.receive(when([second](const Down& d) { return d.ref == second; }, [](Down&) {}));
    got_down = (co_await self.receive<Down>(0ms)).has_value();
  });
  CHECK(rt.run_for(run_limit));
  CHECK_FALSE(got_down);
}
