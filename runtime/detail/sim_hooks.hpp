#pragma once
// The simulation's hooks into the runtime (troupe::testing). Internal.
//
// The library is built twice: normally, where no hook is ever consulted (the
// code that would is not compiled: no cost), and for simulation
// (-DTROUPE_SIMULATION, libtroupe_testing.a), where the clock, message
// deliveries, receives and the choice of the next process to run ask
// the installed hooks, if any. Only .cpp files test the macro: every header
// reads the same in both builds, so they link with each other's objects.

#include <cstdint>

#include "runtime/export.hpp"
#include "runtime/pid.hpp"

namespace troupe {
class Process;
}

namespace troupe::detail {

struct MessageNode;

class TROUPE_EXPORT SimHooks {
 public:
  virtual ~SimHooks() = default;
  // The virtual clocks, in nanoseconds: steady (timers, timeouts, windows)
  // and system (alarms, ages of stored data).
  virtual std::int64_t steady_now_ns() = 0;
  virtual std::int64_t system_now_ns() = 0;
  // A random number, for what the library draws at random (backoff
  // jitter, writer tokens): from the seed, so that a run replays.
  virtual std::uint64_t random() = 0;
  // `node` is about to be queued for `to`, sent by `from` (empty outside a
  // process).
  virtual void on_deliver(Pid from, Pid to, const MessageNode& node) = 0;
  // A receive of p's is about to take `node`, on p's thread. False: p
  // fails instead, before handling it, as if it had crashed on it (the hook
  // has set its exit reason).
  virtual bool on_receive(Process& p, const MessageNode& node) = 0;
};

// The hooks in force: set by one testing::TestRuntime at a time.
TROUPE_EXPORT SimHooks*& sim_hooks();

// Was this library built for simulation? (libtroupe_testing.a: true.)
TROUPE_EXPORT bool simulation_build();

}  // namespace troupe::detail
