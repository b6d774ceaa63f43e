// The application's root supervisor: rt.start(spec), run() until it exits,
// and SIGTERM stopping the tree in reverse start order.
#include <CppUTest/TestHarness.h>

#include <csignal>

#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Application){};

TEST(Application, SigtermStopsTheRootTreeInReverseOrderAndRunReturns) {
  Runtime rt({.schedulers = 2});
  set_supervisor_log(nullptr);
  EventLog log;
  Pid observer = rt.spawn([&](Process& self) -> Proc {
    int started = 0, stopped = 0;
    while (stopped < 3) {
      co_await self.receive(
          [&](const Started& s) {
            log.add("start " + s.id);
            // The tree is up: stop it the way an operator would.
            if (++started == 3) std::raise(SIGTERM);
          },
          [&](const Stopped& s) {
            log.add("stop " + s.id + " " + to_string(s.reason));
            ++stopped;
          });
    }
  });
  SupervisorSpec spec{.strategy = one_for_one,
                      .intensity = 3,
                      .period = 5s,
                      .children = {worker_spec("a", observer), worker_spec("b", observer),
                                   worker_spec("c", observer)}};
  Pid root = rt.start(spec);
  CHECK(root.valid());
  CHECK(rt.root() == root);
  rt.run();  // returns when the root has exited
  CHECK_FALSE(rt.alive(root));
  rt.set_root(Pid{});
  CHECK(rt.run_for(run_limit));  // the observer has seen every stop
  STRCMP_EQUAL("start a,start b,start c,stop c shutdown,stop b shutdown,stop a shutdown",
               log.joined().c_str());
  set_supervisor_log(log_supervisor_event);
}
