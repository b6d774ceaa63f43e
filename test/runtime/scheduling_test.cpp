// Fairness, timers under load, cross-scheduler and foreign-thread sends,
// embedding on an application's loop, shutdown.
#include <CppUTest/TestHarness.h>

#include <atomic>
#include <thread>

#include "runtime/detail/sim_hooks.hpp"
#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Scheduling){};

// A process that always has a message waiting must not starve the others.
TEST(Scheduling, BusyProcessYieldsAfterItsBudget) {
  Runtime rt({.schedulers = 1, .reductions = 100});
  std::atomic<bool> other_ran{false};
  long spins = 0;
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 0);
    while (!other_ran.load()) {
      int n = co_await self.receive<int>();
      ++spins;
      self.send(self.self(), n + 1);
    }
  });
  rt.spawn([&](Process&) -> Proc {
    other_ran = true;
    co_return;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(other_ran.load());
  CHECK(spins >= 1);
}

TEST(Scheduling, TimersFireOnABusyScheduler) {
  Runtime rt({.schedulers = 1, .reductions = 100});
  std::atomic<bool> fired{false};
  rt.spawn([&](Process& self) -> Proc {
    self.send(self.self(), 0);
    while (!fired.load()) {
      co_await self.receive<int>();
      self.send(self.self(), 1);
    }
  });
  rt.spawn([&](Process& self) -> Proc {
    co_await self.sleep_for(5ms);
    fired = true;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(fired.load());
}

TEST(Scheduling, ProcessesSpreadAcrossSchedulersExchangeMessages) {
  Runtime rt({.schedulers = 2});
  long total = 0;
  rt.spawn([&](Process& self) -> Proc {
    constexpr int senders = 8, per = 5000;
    Pid me = self.self();
    for (int s = 0; s < senders; ++s)
      self.spawn(
          [me](Process& p) -> Proc {
            for (int i = 1; i <= per; ++i) p.send(me, i);
            co_return;
          },
          {.placement = Placement::spread});
    for (int i = 0; i < senders * per; ++i) total += co_await self.receive<int>();
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(8L * 5000 * 5001 / 2, total);
}

TEST(Scheduling, ForeignThreadsCanSendSafely) {
  Runtime rt({.schedulers = 2});
  constexpr int threads = 4, per = 10000;
  long total = 0;
  Pid sink = rt.spawn([&](Process& self) -> Proc {
    for (int i = 0; i < threads * per; ++i) total += co_await self.receive<int>();
  });
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = 1; i <= per; ++i) rt.send(sink, i);
    });
  for (auto& t : pool) t.join();
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(static_cast<long>(threads) * per * (per + 1) / 2, total);
}

TEST(Scheduling, EmbedsOnTheApplicationsLoop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    Runtime rt({.loop = &loop});
    LONGS_EQUAL(1, rt.scheduler_count());
    int pongs = 0;
    bool app_timer_fired = false;
    uv_timer_t app_timer;  // the application's own handle on the same loop
    uv_timer_init(&loop, &app_timer);
    app_timer.data = &app_timer_fired;
    uv_timer_start(
        &app_timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 1, 0);
    rt.spawn([&](Process& self) -> Proc {
      Pid echo = self.spawn([](Process& e) -> Proc {
        for (int i = 0; i < 100; ++i) {
          auto p = co_await e.receive<Ping>();
          e.send(p.from, Pong{p.n});
        }
      });
      for (int i = 0; i < 100; ++i) {
        self.send(echo, Ping{self.self(), i});
        pongs += (co_await self.receive<Pong>()).n == i;
      }
      co_await self.sleep_for(5ms);
    });
    CHECK(rt.run_for(run_limit));
    LONGS_EQUAL(100, pongs);
    CHECK(app_timer_fired);
    uv_close(reinterpret_cast<uv_handle_t*>(&app_timer), nullptr);
    rt.shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  LONGS_EQUAL(0, uv_loop_close(&loop));
}

TEST(Scheduling, ShutdownEndsEveryProcessWithShutdown) {
  std::atomic<int> destroyed{0};
  std::atomic<int> started{0};
  {
    Runtime rt({.schedulers = 2});
    for (int i = 0; i < 100; ++i)
      rt.spawn([&](Process& self) -> Proc {
        struct Counter {
          std::atomic<int>& n;
          ~Counter() { ++n; }
        } c{destroyed};
        self.trap_exit(true);  // shutdown of the runtime is not a signal to trap
        ++started;
        co_await self.receive([](const Stop&) {});
      });
    while (started.load() < 100) std::this_thread::yield();
    LONGS_EQUAL(100, rt.process_count());
    rt.shutdown();
    LONGS_EQUAL(0, rt.process_count());
  }
  LONGS_EQUAL(100, destroyed.load());
}

TEST(Scheduling, RunReturnsWhenStopIsCalled) {
  Runtime rt({.schedulers = 1});
  Pid idle = rt.spawn([](Process& self) -> Proc { co_await self.receive([](const Stop&) {}); });
  std::thread stopper([&] { rt.stop(); });
  rt.run();
  stopper.join();
  CHECK(rt.alive(idle));
}

TEST(Scheduling, EmbeddedRunDrivesTheLoopEvenWithoutApplicationHandles) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    Runtime rt({.loop = &loop});
    bool woke = false;
    rt.spawn([&](Process& self) -> Proc {
      co_await self.sleep_for(2ms);  // only our own (unreferenced) timer is pending
      woke = true;
    });
    // run() (unlike run_for) adds no handle of its own: it must hold the loop.
    std::atomic<bool> done{false}, gave_up{false};
    std::thread watchdog([&] {
      for (int i = 0; i < 2000 && !done; ++i) std::this_thread::sleep_for(10ms);
      if (!done) {
        gave_up = true;
        rt.stop();
      }
    });
    rt.run();
    done = true;
    watchdog.join();
    CHECK_FALSE(gave_up.load());
    CHECK(woke);
    rt.shutdown();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  LONGS_EQUAL(0, uv_loop_close(&loop));
}

// The simulation's hooks (troupe::testing) are compiled only into
// libtroupe_testing.a: the library applications link consults none.
TEST(Scheduling, TheNormalLibraryIsBuiltWithoutTheSimulationHooks) {
  CHECK_FALSE(troupe::detail::simulation_build());
}
