// Embedding Troupe in an application that already has a libuv loop: one
// scheduler runs on that loop, driven by the application's own uv_run,
// with a supervision tree of the application's own. Built against the
// installed library: `make embed-test` does
//   c++ main.cpp $(pkg-config --cflags --libs troupe)
// and the same with CMake (find_package(Troupe), see CMakeLists.txt here).
#include <uv.h>

#include <cstdio>
#include <troupe.hpp>

using namespace std::chrono_literals;

// A worker that counts the ticks the application sends it.
struct Ticks {
  using reply = int;
};
struct Tick {};

struct TickCounter : troupe::Server<TickCounter> {
  using calls = troupe::types<Ticks>;
  using casts = troupe::types<Tick>;
  int seen = 0;
  int handle_call(const Ticks&) { return seen; }
  void handle_cast(const Tick&) { ++seen; }
};

int main() {
  // [tutorial:embed]
  uv_loop_t* loop = uv_default_loop();
  troupe::Runtime rt({.loop = loop, .handle_signals = false});

  troupe::SupervisorSpec spec{
      .strategy = troupe::one_for_one,
      .intensity = 3,
      .period = 5s,
      .children = {{.id = "ticks", .start = troupe::server_child<TickCounter>(), .name = "ticks"}}};
  troupe::Pid root = rt.start(spec);
  // [/tutorial:embed]

  // The application's own timer, on the same loop, talks to the tree.
  struct App {
    troupe::Runtime* rt;
    int fired = 0;
  } app{&rt};
  uv_timer_t timer;
  uv_timer_init(loop, &timer);
  timer.data = &app;
  auto tick = [](uv_timer_t* t) {
    auto* a = static_cast<App*>(t->data);
    troupe::cast(*a->rt, "ticks", Tick{});
    if (++a->fired == 5) uv_timer_stop(t);
  };

  // A process waits for the worker, lets the timer tick five times, asks
  // the worker how many ticks it saw, then stops the tree. (In embedded
  // mode processes run on the application's loop thread, so it may touch
  // the application's handles.)
  int answer = -1;
  bool root_down = false;
  rt.spawn([&](troupe::Process& self) -> troupe::Proc {
    (void)co_await self.runtime().registry().wait_for(self, "ticks", 5s);
    uv_timer_start(&timer, tick, 1, 1);
    while (app.fired < 5) co_await self.sleep_for(1ms);
    auto seen = co_await troupe::call(self, "ticks", Ticks{});
    answer = seen ? *seen : -1;
    // As the application (the root's parent), not as a process: a root
    // supervisor ignores exit signals from anyone but its parent.
    self.monitor(root);
    self.runtime().exit(root, troupe::shutdown);
    // The runtime's own message reaches the application's code (with the
    // shared library too: its message types are exported).
    co_await self.receive([&](const troupe::Down&) { root_down = true; }, troupe::after(5s, [] {}));
  });

  rt.run();  // runs the application's loop until the root has exited
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  rt.shutdown();
  uv_run(loop, UV_RUN_DEFAULT);  // the application's handles close
  std::printf("the worker saw %d ticks from the application's timer; the tree's end was %s\n",
              answer, root_down ? "seen" : "NOT seen");
  return answer == 5 && root_down ? 0 : 1;
}
