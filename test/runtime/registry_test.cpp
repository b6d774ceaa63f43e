// The registry: unique names, release on exit, prefixes, topics.
#include <CppUTest/TestHarness.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {
Pid spawn_idle(Runtime& rt) {
  return rt.spawn([](Process& self) -> Proc { co_await self.receive([](const Stop&) {}); });
}
}  // namespace

TEST_GROUP(Registry){};

TEST(Registry, RegisterWhereisUnregister) {
  Runtime rt({.schedulers = 1});
  Pid a = spawn_idle(rt);
  CHECK(rt.registry().register_name("alpha", a).ok());
  CHECK(rt.registry().whereis("alpha") == a);
  CHECK(rt.registry().unregister_name("alpha"));
  CHECK_FALSE(rt.registry().whereis("alpha").valid());
  CHECK_FALSE(rt.registry().unregister_name("alpha"));
}

TEST(Registry, TakenNameIsAnErrorNamingTheHolder) {
  Runtime rt({.schedulers = 1});
  Pid a = spawn_idle(rt), b = spawn_idle(rt);
  CHECK(rt.registry().register_name("room", a).ok());
  auto r = rt.registry().register_name("room", b);
  CHECK_FALSE(r.ok());
  CHECK(r.error().kind == RegisterError::Kind::taken);
  CHECK(r.error().holder == a);
  STRCMP_EQUAL(("name taken by " + a.to_string()).c_str(), to_string(r.error()).c_str());
}

TEST(Registry, DeadProcessCannotRegister) {
  Runtime rt({.schedulers = 1});
  Pid gone = rt.spawn([](Process&) -> Proc { co_return; });
  CHECK(rt.run_for(run_limit));
  auto r = rt.registry().register_name("ghost", gone);
  CHECK(r.error().kind == RegisterError::Kind::noproc);
  CHECK_FALSE(rt.registry().whereis("ghost").valid());
  LONGS_EQUAL(0, rt.registry().size());
}

TEST(Registry, NameIsReleasedWhenItsProcessExits) {
  Runtime rt({.schedulers = 2});
  Pid seen_before_exit, seen_after_exit{1, 1};
  rt.spawn([&](Process& self) -> Proc {
    Pid named = self.spawn([](Process& p) -> Proc { co_await p.receive([](const Stop&) {}); },
                           {.placement = Placement::spread});
    auto& registry = self.runtime().registry();
    if (registry.register_name("temp", named).ok()) seen_before_exit = registry.whereis("temp");
    self.monitor(named);
    self.send(named, Stop{});
    co_await self.receive<Down>();
    seen_after_exit = registry.whereis("temp");
  });
  CHECK(rt.run_for(run_limit));
  CHECK(seen_before_exit.valid());
  CHECK_FALSE(seen_after_exit.valid());
  LONGS_EQUAL(0, rt.registry().size());
}

TEST(Registry, SendByName) {
  Runtime rt({.schedulers = 1});
  int got = 0;
  Pid p = rt.spawn([&](Process& self) -> Proc { got = co_await self.receive<int>(); });
  CHECK(rt.registry().register_name("inbox", p).ok());
  CHECK(rt.send("inbox", 5) == SendResult::ok);
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(5, got);
  CHECK(rt.send("inbox", 6) == SendResult::noproc);
}

TEST(Registry, ListsNamesByPrefixSorted) {
  Runtime rt({.schedulers = 1});
  for (const char* n : {"rooms/b", "rooms/a", "games/x"})
    CHECK(rt.registry().register_name(n, spawn_idle(rt)).ok());
  auto rooms = rt.registry().list("rooms/");
  LONGS_EQUAL(2, rooms.size());
  STRCMP_EQUAL("rooms/a", rooms[0].first.c_str());
  STRCMP_EQUAL("rooms/b", rooms[1].first.c_str());
  LONGS_EQUAL(3, rt.registry().list("").size());
}

TEST(Registry, TopicsHoldManyProcessesAndForgetTheDead) {
  Runtime rt({.schedulers = 1});
  Pid a = spawn_idle(rt), b = spawn_idle(rt);
  rt.registry().join("news", a);
  rt.registry().join("news", b);
  rt.registry().join("news", b);  // once only
  LONGS_EQUAL(2, rt.registry().members("news").size());
  rt.registry().leave("news", b);
  std::size_t after_exit = 99;
  rt.spawn([&](Process& self) -> Proc {
    self.monitor(a);
    self.exit(a, troupe::kill);
    co_await self.receive<Down>();
    after_exit = self.runtime().registry().members("news").size();
    self.send(b, Stop{});
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(0, after_exit);
}

TEST(Registry, DispatchSendsToEveryMemberOfATopic) {
  Runtime rt({.schedulers = 2});
  std::atomic<int> sum{0};
  std::vector<Pid> members;
  for (int i = 0; i < 5; ++i)
    members.push_back(rt.spawn([&](Process& self) -> Proc { sum += co_await self.receive<int>(); },
                               {.placement = Placement::spread}));
  for (Pid p : members) rt.registry().join("scores", p);
  LONGS_EQUAL(5, rt.dispatch("scores", 7));
  LONGS_EQUAL(0, rt.dispatch("nobody-listens", 7));
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(35, sum.load());
}

TEST(Registry, WaitForGetsANameRegisteredLater) {
  Runtime rt({.schedulers = 2});
  Pid found, registered;
  rt.spawn([&](Process& self) -> Proc {
    registered = self.spawn(
        [](Process& p) -> Proc {
          co_await p.receive([](const Go&) {});
          (void)p.runtime().registry().register_name("late", p.self());
          co_await p.receive([](const Stop&) {});
        },
        {.placement = Placement::spread});
    self.send(registered, Go{});
    auto r = co_await self.runtime().registry().wait_for(self, "late", 10s);
    if (r.ok()) found = r.value();
    self.send(registered, Stop{});
  });
  CHECK(rt.run_for(run_limit));
  CHECK(found.valid());
  CHECK(found == registered);
}

TEST(Registry, WaitForTimesOutWithAClearError) {
  Runtime rt({.schedulers = 1});
  std::string error;
  rt.spawn([&](Process& self) -> Proc {
    auto r = co_await self.runtime().registry().wait_for(self, "never", 10ms);
    if (!r.ok()) error = to_string(r.error());
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("{error, timeout waiting for name never}", error.c_str());
}

TEST(Registry, LookupOrStartStartsExactlyOneUnderRacingCallers) {
  Runtime rt({.schedulers = 2});
  constexpr int callers = 500;
  std::atomic<int> starts{0};
  std::vector<Pid> results;
  auto start = [&](Process& self) -> Task<Registry::Lookup> {
    ++starts;
    co_await self.yield();  // widen the race: others arrive while we start
    co_return self.spawn([](Process& p) -> Proc { co_await p.receive([](const Stop&) {}); },
                         {.placement = Placement::spread});
  };
  // Collects every caller's answer, then stops the room so run_for can end.
  Pid collector = rt.spawn([&](Process& self) -> Proc {
    for (int i = 0; i < callers; ++i) results.push_back(co_await self.receive<Pid>());
    self.send(self.runtime().registry().whereis("rooms/lobby"), Stop{});
  });
  for (int i = 0; i < callers; ++i)
    rt.spawn(
        [&, collector](Process& self) -> Proc {
          auto r = co_await self.runtime().registry().lookup_or_start(self, "rooms/lobby", start);
          self.send(collector, r.ok() ? r.value() : Pid{});
        },
        {.placement = Placement::spread});
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(1, starts.load());
  LONGS_EQUAL(callers, results.size());
  for (Pid p : results) CHECK(p.valid() && p == results.front());
}

TEST(Registry, LookupOrStartReportsAFailedStart) {
  Runtime rt({.schedulers = 1});
  std::string first, second;
  rt.spawn([&](Process& self) -> Proc {
    auto failing = [](Process&) -> Task<Registry::Lookup> {
      co_return unexpected(ExitReason::error("no capacity"));
    };
    auto r = co_await self.runtime().registry().lookup_or_start(self, "x", failing);
    if (!r.ok()) first = to_string(r.error());
    auto throwing = [](Process&) -> Task<Registry::Lookup> {
      throw std::runtime_error("boom");
      co_return Pid{};
    };
    r = co_await self.runtime().registry().lookup_or_start(self, "x", throwing);
    if (!r.ok()) second = to_string(r.error());
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("{error, no capacity}", first.c_str());
  STRCMP_EQUAL("{error, std::runtime_error: boom}", second.c_str());
}
