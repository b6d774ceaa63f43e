// The application's root: run() returns when it exits; SIGTERM shuts it down.
#include <CppUTest/TestHarness.h>

#include <csignal>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace troupe::test {

// A stand-in for a supervisor spec: start() finds start_root by ADL.
struct RootSpec {
  EventLog* log;
};

Pid start_root(Runtime& rt, const RootSpec& spec) {
  return rt.spawn([log = spec.log](Process& self) -> Proc {
    self.trap_exit(true);
    auto e = co_await self.receive<Exit>();
    log->add("root got " + to_string(e.reason));
  });
}

}  // namespace troupe::test

TEST_GROUP(Lifecycle){};

TEST(Lifecycle, RunReturnsWhenTheRootExitsEvenIfOthersLive) {
  Runtime rt({.schedulers = 2, .handle_signals = false});
  EventLog log;
  Pid other = rt.spawn([](Process& self) -> Proc { co_await self.receive([](const Stop&) {}); });
  Pid root = rt.start(RootSpec{&log});
  CHECK(rt.root() == root);
  rt.exit(root, troupe::shutdown);
  rt.run();
  STRCMP_EQUAL("root got shutdown", log.joined().c_str());
  CHECK(rt.alive(other));
}

TEST(Lifecycle, SigtermShutsTheRootDown) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  rt.start(RootSpec{&log});
  std::raise(SIGTERM);
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("root got shutdown", log.joined().c_str());
}
