// Mailbox order, selective receive, timeouts, timers, bounded mailboxes.
#include <CppUTest/TestHarness.h>

#include <optional>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Mailbox){};

TEST(Mailbox, OrderIsPreservedPerSender) {
  Runtime rt({.schedulers = 2});
  std::vector<int> got;
  Pid receiver = rt.spawn(
      [&](Process& self) -> Proc {
        for (int i = 0; i < 1000; ++i) got.push_back(co_await self.receive<int>());
      },
      {.scheduler = 0});
  rt.spawn(
      [&](Process& self) -> Proc {
        for (int i = 0; i < 1000; ++i) self.send(receiver, i);
        co_return;
      },
      {.scheduler = 1});
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(1000, got.size());
  for (int i = 0; i < 1000; ++i) LONGS_EQUAL(i, got[i]);
}

TEST(Mailbox, SelectiveReceiveLeavesUnmatchedMessagesInOrder) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 1);
    self.send(self.self(), std::string("a"));
    self.send(self.self(), 2);
    self.send(self.self(), std::string("b"));
    log.add(co_await self.receive<std::string>());  // skips 1
    log.add(std::to_string(co_await self.receive<int>()));
    log.add(std::to_string(co_await self.receive<int>()));
    log.add(co_await self.receive<std::string>());
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("a,1,2,b", log.joined().c_str());
}

TEST(Mailbox, ClausesAreTriedInOrderAndGuardsFilter) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  rt.spawn([&](Process& self) -> Proc {
    for (int v : {5, 50, 7}) self.send(self.self(), v);
    for (int i = 0; i < 3; ++i) {
      co_await self.receive(when([](const int& v) { return v > 10; },
                                 [&](int v) { log.add("big" + std::to_string(v)); }),
                            [&](int v) { log.add("small" + std::to_string(v)); });
    }
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("small5,big50,small7", log.joined().c_str());
}

TEST(Mailbox, ReceiveReturnsWhatTheClauseReturns) {
  Runtime rt({.schedulers = 1});
  int result = 0;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), Pong{7});
    result =
        co_await self.receive([](const Ping&) { return 1; }, [](const Pong& p) { return p.n * 2; });
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(14, result);
}

TEST(Mailbox, AfterZeroPollsWithoutWaiting) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  rt.spawn([&](Process& self) -> Proc {
    co_await self.receive([&](int) { log.add("msg"); }, after(0ms, [&] { log.add("empty"); }));
    self.send(self.self(), 3);
    co_await self.receive([&](int) { log.add("msg"); }, after(0ms, [&] { log.add("empty"); }));
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("empty,msg", log.joined().c_str());
}

TEST(Mailbox, ReceiveTimesOutWhenNothingMatches) {
  Runtime rt({.schedulers = 1});
  std::optional<int> got = 1;
  bool string_still_there = false;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), std::string("not an int"));
    got = co_await self.receive<int>(20ms);
    auto s = co_await self.receive<std::string>(0ms);
    string_still_there = s.has_value();
  });
  CHECK(rt.run_for(run_limit));
  CHECK_FALSE(got.has_value());
  CHECK(string_still_there);
}

TEST(Mailbox, AnyMessageMatchesEverything) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 5);
    self.send(self.self(), Pong{1});
    for (int i = 0; i < 2; ++i)
      co_await self.receive(
          [&](AnyMessage& m) { log.add(m.is<int>() ? "int" : std::string(m.type_name())); });
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("int,troupe::test::Pong", log.joined().c_str());
}

TEST(Mailbox, SendAfterDeliversLaterAndCanBeCancelled) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  bool cancelled = false, cancel_again = true;
  rt.spawn([&](Process& self) -> Proc {
    self.send_after(10ms, self.self(), 1);
    TimerRef t = self.send_after(5ms, self.self(), 2);
    cancelled = self.cancel_timer(t);
    cancel_again = self.cancel_timer(t);
    log.add(std::to_string(co_await self.receive<int>()));
    // Timers fire in deadline order: had the cancelled 5 ms timer fired, its
    // message would have come before the 10 ms one, and would be here now.
    log.add(self.mailbox_size() == 0 ? "none" : "late");
  });
  CHECK(rt.run_for(run_limit));
  CHECK(cancelled);
  CHECK_FALSE(cancel_again);
  STRCMP_EQUAL("1,none", log.joined().c_str());
}

TEST(Mailbox, SleepForKeepsMessages) {
  Runtime rt({.schedulers = 1});
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 9);
    co_await self.sleep_for(5ms);
    got = co_await self.receive<int>();
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(9, got);
}

TEST_GROUP(BoundedMailbox){};

// A receiver that holds still until told to count its mailbox.
static Pid spawn_sleeper(Runtime& rt, SpawnOptions opts, std::size_t& size, std::uint64_t& dropped,
                         std::vector<int>& kept) {
  return rt.spawn(
      [&](Process& self) -> Proc {
        co_await self.receive([](const Go&) {});
        size = self.mailbox_size();
        dropped = self.dropped_messages();
        while (auto v = co_await self.receive<int>(0ms)) kept.push_back(*v);
      },
      opts);
}

TEST(BoundedMailbox, RejectReportsMailboxFullToTheSender) {
  Runtime rt({.schedulers = 1});
  std::size_t size = 0;
  std::uint64_t dropped = 0;
  std::vector<int> kept, results;
  Pid r = spawn_sleeper(rt, {.max_mailbox = 3, .overflow = Overflow::reject}, size, dropped, kept);
  rt.spawn([&](Process& self) -> Proc {
    for (int i = 0; i < 5; ++i) results.push_back(static_cast<int>(self.send(r, i)));
    results.push_back(static_cast<int>(self.send(r, Go{})));  // ordinary, so bounded too
    self.exit(r, troupe::kill);                               // signals are never bounded
    co_return;
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(6, results.size());
  for (int i = 0; i < 3; ++i) LONGS_EQUAL(static_cast<int>(SendResult::ok), results[i]);
  for (int i = 3; i < 6; ++i) LONGS_EQUAL(static_cast<int>(SendResult::mailbox_full), results[i]);
  CHECK(kept.empty());
}

TEST(BoundedMailbox, DropNewestCountsDrops) {
  Runtime rt({.schedulers = 1});
  std::size_t size = 0;
  std::uint64_t dropped = 0;
  std::vector<int> kept;
  Pid r =
      spawn_sleeper(rt, {.max_mailbox = 4, .overflow = Overflow::drop_newest}, size, dropped, kept);
  rt.spawn([&](Process& self) -> Proc {
    for (int i = 0; i < 3; ++i) self.send(r, i);
    self.send(r, Go{});
    for (int i = 3; i < 10; ++i) self.send(r, i);  // all dropped
    co_return;
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(7, dropped);
  CHECK((kept == std::vector<int>{0, 1, 2}));
}

TEST(BoundedMailbox, DropOldestKeepsTheNewest) {
  Runtime rt({.schedulers = 1});
  std::size_t size = 0;
  std::uint64_t dropped = 0;
  std::vector<int> kept;
  Pid r =
      spawn_sleeper(rt, {.max_mailbox = 3, .overflow = Overflow::drop_oldest}, size, dropped, kept);
  rt.spawn([&](Process& self) -> Proc {
    for (int i = 0; i < 10; ++i) self.send(r, i);
    self.send(r, Go{});  // all queued before r runs again: it keeps 8, 9, Go
    co_return;
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(2, size);
  LONGS_EQUAL(8, dropped);
  CHECK((kept == std::vector<int>{8, 9}));
}

TEST(BoundedMailbox, SystemMessagesBypassTheBound) {
  Runtime rt({.schedulers = 1});
  int downs = 0, exits = 0;
  rt.spawn(
      [&](Process& self) -> Proc {
        self.trap_exit(true);
        for (int i = 0; i < 5; ++i) self.send(self.self(), i);  // fills the bound of 2, 3 rejected
        for (int i = 0; i < 3; ++i) {
          self.monitor(self.spawn([](Process&) -> Proc { co_return; }));
          self.spawn_link([](Process& c) -> Proc {
            c.exit(ExitReason::error("boom"));
            co_return;
          });
        }
        for (int i = 0; i < 6; ++i)
          co_await self.receive([&](const Down&) { ++downs; }, [&](const Exit&) { ++exits; });
      },
      {.max_mailbox = 2});
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(3, downs);
  LONGS_EQUAL(3, exits);
}

TEST_GROUP(Backpressure){};

// A receiver that consumes nothing until `gate` ends, then `count` ints.
static Pid spawn_gated_receiver(Process& self, Pid gate, int count, std::vector<int>& got) {
  return self.spawn(
      [gate, count, &got](Process& r) -> Proc {
        r.monitor(gate);
        co_await r.receive<Down>();  // never bounded, so it gets through a full mailbox
        for (int i = 0; i < count; ++i) got.push_back(co_await r.receive<int>());
      },
      {.max_mailbox = 4, .overflow = Overflow::reject});
}

TEST(Backpressure, SendWhenRoomWaitsForTheReceiverToWorkItsMailboxDown) {
  Runtime rt({.schedulers = 1});
  std::vector<int> got;
  std::vector<SendResult> results;
  rt.spawn([&](Process& self) -> Proc {
    Pid gate = self.spawn([](Process& g) -> Proc { co_await g.receive([](const Stop&) {}); });
    Pid r = spawn_gated_receiver(self, gate, 20, got);
    for (int i = 0; i < 4; ++i) results.push_back(co_await self.send_when_room(r, i));
    // Full, and nobody consumes: it waits, then gives up.
    results.push_back(co_await self.send_when_room(r, 4, 20ms));
    self.exit(gate, troupe::kill);  // the receiver starts consuming
    for (int i = 4; i < 20; ++i) results.push_back(co_await self.send_when_room(r, i));
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(21, results.size());
  for (int i = 0; i < 21; ++i)
    CHECK(results[i] == (i == 4 ? SendResult::mailbox_full : SendResult::ok));
  LONGS_EQUAL(20, got.size());
  for (int i = 0; i < 20; ++i) LONGS_EQUAL(i, got[i]);
}

TEST(Backpressure, AWaitingSenderLearnsTheReceiverDied) {
  Runtime rt({.schedulers = 1});
  std::vector<int> got;
  SendResult last = SendResult::ok;
  rt.spawn([&](Process& self) -> Proc {
    Pid gate = self.spawn([](Process& g) -> Proc { co_await g.receive([](const Stop&) {}); });
    Pid r = spawn_gated_receiver(self, gate, 20, got);
    Pid killer = self.spawn([r](Process& k) -> Proc {
      co_await k.receive([](const Go&) {});
      k.exit(r, troupe::kill);
    });
    for (int i = 0; i < 4; ++i) co_await self.send_when_room(r, i);
    self.send(killer, Go{});  // runs once we wait below
    last = co_await self.send_when_room(r, 4, 10s);
    self.exit(gate, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(last == SendResult::noproc);
  CHECK(got.empty());
}

TEST(Mailbox, TimeoutsStillFireAfterManyLongOnesWereCancelled) {
  Runtime rt({.schedulers = 1});
  int matched = 0;
  bool timed_out = false;
  rt.spawn([&](Process& self) -> Proc {
    // Each receive arms a one-hour timer and cancels it when its message
    // arrives; the scheduler must drop those cancelled entries as it goes.
    for (int i = 0; i < 5000; ++i) {
      self.send_after(0ms, self.self(), i);
      if (co_await self.receive<int>(1h)) ++matched;
    }
    timed_out = !(co_await self.receive<int>(10ms)).has_value();
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(5000, matched);
  CHECK(timed_out);
}
