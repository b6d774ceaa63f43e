// Runtime::run_on / run_on_async: run something on a scheduler's thread and
// wait for it, from outside the runtime; refused from a scheduler's thread.
#include <CppUTest/TestHarness.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// The thread that runs scheduler `index`'s processes, seen by one of them.
std::thread::id scheduler_thread(Runtime& rt, unsigned index) {
  std::thread::id seen;
  rt.spawn(
      [&seen](Process&) -> Proc {
        seen = std::this_thread::get_id();
        co_return;
      },
      {.scheduler = static_cast<int>(index)});
  CHECK_TRUE(rt.run_for(run_limit));
  return seen;
}

// Calls done(value) from a timer on `loop`: a later turn of the loop, not
// from the call that set it up.
void answer_later(uv_loop_t* loop, std::function<void(int)> done, int value) {
  struct Later {
    uv_timer_t timer;
    std::function<void(int)> done;
    int value;
  };
  auto* later = new Later{{}, std::move(done), value};
  uv_timer_init(loop, &later->timer);
  later->timer.data = later;
  uv_timer_start(
      &later->timer,
      [](uv_timer_t* t) {
        auto* l = static_cast<Later*>(t->data);
        l->done(l->value);
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Later*>(h->data); });
      },
      1, 0);
}

}  // namespace

TEST_GROUP(RunOn){};

TEST(RunOn, RunsOnThatSchedulersThreadAndReturnsTheResult) {
  Runtime rt({.schedulers = 2, .handle_signals = false});
  std::thread::id ran_on;
  std::string answer = rt.run_on(1, [&] {
    ran_on = std::this_thread::get_id();
    return std::string("from the loop");
  });
  STRCMP_EQUAL("from the loop", answer.c_str());
  CHECK(ran_on == scheduler_thread(rt, 1));
  CHECK(ran_on != std::this_thread::get_id());
}

TEST(RunOn, RethrowsTheFunctionsException) {
  Runtime rt({.schedulers = 1, .handle_signals = false});
  CHECK_THROWS(std::runtime_error, rt.run_on(0, []() -> int { throw std::runtime_error("no"); }));
  // The scheduler still serves.
  LONGS_EQUAL(7, rt.run_on(0, [] { return 7; }));
}

TEST(RunOn, AsyncWaitsForTheCallbackOnTheLoop) {
  Runtime rt({.schedulers = 1, .handle_signals = false});
  int value = rt.run_on_async<int>(
      0, [&](std::function<void(int)> done) { answer_later(rt.loop(0), std::move(done), 42); });
  LONGS_EQUAL(42, value);
}

TEST(RunOn, FromASchedulerThreadThrowsInsteadOfWaitingForItself) {
  Runtime rt({.schedulers = 1, .handle_signals = false});
  std::atomic<bool> refused{false};
  rt.spawn([&](Process& self) -> Proc {
    try {
      self.runtime().run_on(0, [] { return 1; });
    } catch (const std::logic_error&) {
      refused = true;
    }
    co_return;
  });
  CHECK_TRUE(rt.run_for(run_limit));
  CHECK_TRUE(refused.load());
  // And from a callback posted to the loop, outside any process.
  std::atomic<bool> refused_in_post{false};
  rt.run_on(0, [&] {
    try {
      rt.run_on_async<int>(0, [](std::function<void(int)> done) { done(1); });
    } catch (const std::logic_error&) {
      refused_in_post = true;
    }
    return 0;
  });
  CHECK_TRUE(refused_in_post.load());
}

TEST(RunOn, EmbeddedRunsOnTheApplicationsLoop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    Runtime rt({.loop = &loop});
    int value = rt.run_on_async<int>(
        0, [&](std::function<void(int)> done) { answer_later(&loop, std::move(done), 5); });
    LONGS_EQUAL(5, value);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  LONGS_EQUAL(0, uv_loop_close(&loop));
}
