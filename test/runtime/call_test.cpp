// Calls with reply and timeout; offload to the thread pool.
#include <CppUTest/TestHarness.h>

#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Add {
  int a, b;
};
struct Slow {
  Duration delay;
};

// Answers Add with the sum; answers Slow after its delay; crashes on Stop.
Pid spawn_adder(Process& self) {
  return self.spawn(
      [](Process& s) -> Proc {
        for (;;) {
          co_await s.receive(
              [&](Request<Add>& r) { s.reply(r, r.value.a + r.value.b); },
              [&](Request<Slow>& r) { s.send_after(r.value.delay, s.self(), r.reply_to); },
              [&](ReplyTo& late) { s.reply(late, -1); },
              [&](const Stop&) { s.exit(ExitReason::error("stopped")); });
        }
      },
      {.placement = Placement::spread});
}

}  // namespace

TEST_GROUP(Call){};

TEST(Call, ReturnsTheReply) {
  Runtime rt({.schedulers = 2});
  int sum = 0;
  rt.spawn([&](Process& self) -> Proc {
    Pid adder = spawn_adder(self);
    auto r = co_await self.call<int>(adder, Add{2, 3});
    if (r) sum = *r;
    self.exit(adder, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(5, sum);
}

TEST(Call, TimesOutAndALateReplyNeverReachesALaterCall) {
  Runtime rt({.schedulers = 2});
  CallError::Kind first = CallError::Kind::noproc;
  int second = 0;
  std::size_t leftover = 99;
  rt.spawn([&](Process& self) -> Proc {
    Pid adder = spawn_adder(self);
    auto slow = co_await self.call<int>(adder, Slow{30ms}, 5ms);
    if (!slow) first = slow.error().kind;
    co_await self.sleep_for(50ms);  // the late reply (-1) arrives meanwhile
    auto r = co_await self.call<int>(adder, Add{20, 22});
    if (r) second = *r;
    leftover = self.mailbox_size();
    self.exit(adder, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(first == CallError::Kind::timeout);
  LONGS_EQUAL(42, second);
  LONGS_EQUAL(0, leftover);
}

TEST(Call, CalleeDeathGivesItsExitReason) {
  Runtime rt({.schedulers = 1});
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    Pid p = self.spawn([](Process& s) -> Proc {
      co_await s.receive([&](Request<Add>&) { s.exit(ExitReason::error("while handling")); });
    });
    auto r = co_await self.call<int>(p, Add{1, 1});
    if (!r) err = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::exit);
  CHECK(err.reason == ExitReason::error("while handling"));
}

TEST(Call, DeadCalleeGivesNoproc) {
  Runtime rt({.schedulers = 1});
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    Pid p = self.spawn([](Process&) -> Proc { co_return; });
    self.monitor(p);
    co_await self.receive<Down>();
    auto r = co_await self.call<int>(p, Add{1, 1});
    if (!r) err = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::noproc);
}

TEST(Call, WrongReplyTypeIsBadReply) {
  Runtime rt({.schedulers = 1});
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    Pid p = self.spawn([](Process& s) -> Proc {
      co_await s.receive([&](Request<Add>& r) { s.reply(r, std::string("text")); });
    });
    auto r = co_await self.call<int>(p, Add{1, 1});
    if (!r) err = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::bad_reply);
}

TEST_GROUP(Offload){};

TEST(Offload, ReturnsTheResultWithoutBlockingTheScheduler) {
  Runtime rt({.schedulers = 1});
  std::promise<void> gate;
  auto opened = gate.get_future().share();
  int result = 0;
  rt.spawn([&](Process& self) -> Proc {
    // Another process on the same (only) scheduler opens the gate the
    // blocking work waits for: it can only run if the scheduler is free.
    self.spawn([&](Process&) -> Proc {
      gate.set_value();
      co_return;
    });
    result = co_await self.offload([opened] {
      opened.wait();
      return 7;
    });
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(7, result);
}

TEST(Offload, RethrowsTheWorksException) {
  Runtime rt({.schedulers = 1});
  std::string caught;
  rt.spawn([&](Process& self) -> Proc {
    try {
      co_await self.offload([]() -> int { throw std::runtime_error("disk on fire"); });
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("disk on fire", caught.c_str());
}

TEST(Offload, KilledWhileWaitingFreesTheWorkWhenItReturns) {
  Runtime rt({.schedulers = 1});
  std::promise<void> gate;
  auto opened = gate.get_future().share();
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid worker = self.spawn(
        [opened](Process& w) -> Proc { co_await w.offload([opened] { opened.wait(); }); });
    self.monitor(worker);
    self.exit(worker, troupe::kill);
    reason = (co_await self.receive<Down>()).reason;
    gate.set_value();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == troupe::killed);
}

TEST(Call, AwaitReplyGetsACompletionFromAnotherThread) {
  Runtime rt({.schedulers = 1});
  int got = 0;
  CallError::Kind late = CallError::Kind::noproc;
  std::size_t left_after = 99;
  std::vector<std::thread> workers;
  std::mutex m;
  rt.spawn([&](Process& self) -> Proc {
    Ref ref = self.expect_reply();
    ReplyTo to{self.self(), ref};
    Runtime* runtime = &self.runtime();
    {
      std::lock_guard<std::mutex> lock(m);
      workers.emplace_back([runtime, to] { runtime->reply(to, 99); });
    }
    auto r = co_await self.await_reply<int>(ref, 10s);
    if (r) got = *r;
    // A completion that misses its timeout is never seen afterwards.
    Ref slow = self.expect_reply();
    auto t = co_await self.await_reply<int>(slow, 1ms);
    if (!t) late = t.error().kind;
    self.runtime().reply(ReplyTo{self.self(), slow}, 5);
    // Replies and messages to this process keep their order: once a marker
    // sent after the late reply is received, the reply has been handled, and
    // it must not have been kept (the marker was the mailbox's only entry).
    self.send(self.self(), Go{});
    co_await self.receive([](const Go&) {});
    left_after = self.mailbox_size();
  });
  CHECK(rt.run_for(run_limit));
  for (auto& w : workers) w.join();
  LONGS_EQUAL(99, got);
  CHECK(late == CallError::Kind::timeout);
  LONGS_EQUAL(0, left_after);
}
