#include <CppUTest/TestHarness.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "runtime/detail/sim_hooks.hpp"
#include "runtime/messages.hpp"
#include "test/support/supervisor_helpers.hpp"
#include "testing/cpputest.hpp"
#include "testing/test_runtime.hpp"

using namespace std::chrono_literals;
using troupe::Pid;
using troupe::Proc;
using troupe::Process;
using troupe::testing::ExpectationFailed;
using troupe::testing::TestOptions;
using troupe::testing::TestRuntime;

namespace {

struct Ping {
  int n;
  Pid from;
  bool operator==(const Ping& o) const { return n == o.n; }
};
struct Pong {
  int n;
};

// Failures throw ExpectationFailed instead of failing the test, for tests
// of the failures themselves.
struct ThrowingFailures {
  ThrowingFailures() { troupe::testing::set_failure_handler({}); }
  ~ThrowingFailures() {
    troupe::testing::set_failure_handler(&troupe::testing::report_to_cpputest);
  }
};

Proc ponger(Process& self) {
  for (;;) co_await self.receive([&](const Ping& p) { self.send(p.from, Pong{p.n}); });
}

}  // namespace

TEST_GROUP(Kit){};

TEST(Kit, ExpectFollowsAMessageFromSenderToReceiver) {
  TestRuntime t;
  auto probe = t.probe();
  Pid pong = t.spawn(ponger);
  t.inject(Ping{7, probe.pid()}).from(probe.pid()).to(pong);
  t.expect<Ping>().from(probe.pid()).to(pong).with(Ping{7, {}});
  t.expect<Pong>().from(pong).to(probe.pid()).with([](const Pong& p) { return p.n == 7; });
  CHECK_EQUAL(7, probe.expect<Pong>(pong).n);
  probe.expect_nothing();
}

TEST(Kit, ExpectFailsOnAnotherTypeAndNamesTheSeed) {
  ThrowingFailures throwing;
  TestRuntime t(TestOptions{.seed = 42});
  auto probe = t.probe();
  Pid pong = t.spawn(ponger);
  t.runtime().send(pong, Ping{1, probe.pid()});
  try {
    t.expect<Ping>().to(probe.pid());
    FAIL("expect should have failed");
  } catch (const ExpectationFailed& e) {
    std::string what = e.what();
    CHECK(what.find("Pong") != std::string::npos);
    CHECK(what.find("seed=42") != std::string::npos);
  }
}

TEST(Kit, VirtualTimeFiresATimeoutWithoutWaiting) {
  TestRuntime t;
  bool timed_out = false;
  t.spawn([&](Process& self) -> Proc {
    co_await self.receive([](const Ping&) {}, troupe::after(1h, [&] { timed_out = true; }));
  });
  t.run();
  CHECK_FALSE(timed_out);
  t.advance(59min);
  CHECK_FALSE(timed_out);
  t.advance(1min);
  CHECK_TRUE(timed_out);
  CHECK(t.elapsed() == 1h);
}

namespace {

struct Hello {
  int from_index;
};
struct Question {};

// Eight processes greet one collector at once: the seed decides the order.
std::uint64_t greeting_digest(std::uint64_t seed, std::vector<int>* order = nullptr) {
  TestRuntime t(TestOptions{.seed = seed});
  Pid collector = t.spawn([order](Process& self) -> Proc {
    for (int i = 0; i < 8; ++i)
      co_await self.receive([&](const Hello& h) {
        if (order) order->push_back(h.from_index);
      });
  });
  for (int i = 0; i < 8; ++i)
    t.spawn([collector, i](Process& self) -> Proc {
      self.send(collector, Hello{i});
      co_return;
    });
  t.run();
  return t.trace_digest();
}

}  // namespace

TEST(Kit, TheSameSeedReplaysTheSameRunAndOtherSeedsReorder) {
  std::vector<int> first, again;
  const auto digest = greeting_digest(7, &first);
  CHECK_EQUAL(digest, greeting_digest(7, &again));
  CHECK(first == again);
  LONGS_EQUAL(8, first.size());
  int distinct_orders = 0;
  std::vector<int> previous = first;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::vector<int> order;
    greeting_digest(seed, &order);
    distinct_orders += order != previous;
    previous = order;
  }
  CHECK(distinct_orders > 0);
}

TEST(Kit, AllowAndDisallowDoNotFailOnOtherMessages) {
  TestRuntime t;
  auto probe = t.probe();
  Pid pong = t.spawn(ponger);
  CHECK_FALSE(t.allow<Pong>().to(pong).matched());  // nothing at all came
  t.inject(Ping{1, probe.pid()}).to(pong);
  CHECK_FALSE(t.allow<Pong>().to(pong).matched());  // a Ping is next, not a Pong
  t.disallow<Pong>().to(pong);
  CHECK_TRUE(t.allow<Ping>().to(pong).matched());
  CHECK_EQUAL(1, probe.expect<Pong>().n);
}

TEST(Kit, MailboxesCanBeInspectedBeforeTheirOwnerRuns) {
  TestRuntime t;
  auto probe = t.probe();
  t.runtime().send(probe.pid(), Pong{1});
  t.runtime().send(probe.pid(), Ping{2, {}});
  LONGS_EQUAL(2, t.mailbox_size(probe.pid()));
  const Ping* ping = t.peek<Ping>(probe.pid());
  CHECK(ping != nullptr);
  LONGS_EQUAL(2, ping->n);
  CHECK(t.peek<Hello>(probe.pid()) == nullptr);
  probe.expect<Pong>();
  LONGS_EQUAL(1, t.mailbox_size(probe.pid()));
}

TEST(Kit, SendAfterFiresAtItsDeadlineOnVirtualTime) {
  TestRuntime t;
  auto probe = t.probe();
  t.spawn([&](Process& self) -> Proc {
    self.send_after(10s, probe.pid(), Pong{1});
    self.send_after(3s, probe.pid(), Pong{2});
    co_return;
  });
  t.run();
  LONGS_EQUAL(0, probe.queued());
  CHECK_TRUE(t.advance_to_next_timer());
  CHECK(t.elapsed() == 3s);
  CHECK_EQUAL(2, probe.expect<Pong>().n);
  CHECK_TRUE(t.advance_to_next_timer());
  CHECK(t.elapsed() == 10s);
  CHECK_EQUAL(1, probe.expect<Pong>().n);
  CHECK_FALSE(t.advance_to_next_timer());
}

TEST(Kit, ACallToAProcessThatNeverAnswersTimesOutOnVirtualTime) {
  TestRuntime t;
  auto probe = t.probe();  // never answers
  std::optional<bool> timed_out;
  t.spawn([&](Process& self) -> Proc {
    auto answer = co_await self.call<int>(probe.pid(), Question{}, 30s);
    timed_out = !answer && answer.error().kind == troupe::CallError::Kind::timeout;
  });
  t.advance(29s);
  CHECK_FALSE(timed_out.has_value());
  t.advance(1s);
  CHECK_TRUE(timed_out.has_value());
  CHECK_TRUE(*timed_out);
}

TEST(Kit, CrashAtTheNthMessageEndsTheProcessBeforeItHandlesIt) {
  TestRuntime t;
  int handled = 0;
  Pid worker = t.spawn([&](Process& self) -> Proc {
    for (;;) co_await self.receive([&](const Ping&) { ++handled; });
  });
  std::optional<troupe::ExitReason> reason;
  t.spawn([&](Process& self) -> Proc {
    auto ref = self.monitor(worker);
    (void)ref;
    co_await self.receive([&](const troupe::Down& d) { reason = d.reason; });
  });
  t.run();
  t.crash_at(worker, 3);
  for (int i = 0; i < 5; ++i) t.runtime().send(worker, Ping{i, {}});
  t.run();
  LONGS_EQUAL(2, handled);
  CHECK_FALSE(t.runtime().alive(worker));
  CHECK(reason.has_value());
  CHECK(to_string(*reason).find("injected crash") != std::string::npos);
}

TEST(Kit, ASupervisorRestartsAChildCrashedAtItsNthMessage) {
  using namespace troupe;
  using namespace troupe::test;
  EventRecorder quiet;  // the supervisor's events, instead of stderr
  TestRuntime t;
  auto observer = t.probe();
  t.spawn([&](Process& self) -> Proc {
    SupervisorSpec spec{.children = {worker_spec("w", observer.pid())}};
    co_await start_supervisor(self, spec);
    co_await self.receive([](const Question&) {});  // holds the supervisor
  });
  const Pid first = observer.expect<Started>().pid;
  std::optional<ExitReason> reason;
  t.spawn([&](Process& self) -> Proc {
    self.monitor(first);
    co_await self.receive([&](const Down& d) { reason = d.reason; });
  });
  t.run();
  t.crash_at(first, 1);
  cast(t.runtime(), first, Crash{ExitReason::error("handled")});
  const Pid second = observer.expect<Started>().pid;
  CHECK(second != first);
  CHECK_TRUE(t.runtime().alive(second));
  t.run();  // the monitor's Down may not have been handled yet (the seed decides)
  CHECK(reason.has_value());
  CHECK(to_string(*reason).find("injected crash") != std::string::npos);  // not "handled"
}

TEST(Kit, TheKitIsLinkedWithTheSimulationBuild) {
  CHECK_TRUE(troupe::detail::simulation_build());
}
