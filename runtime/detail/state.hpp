#pragma once
// The process state word: generation << 2 | state. Internal.

#include <cstdint>

#include "runtime/exit_reason.hpp"
#include "runtime/pid.hpp"

namespace troupe::detail {

enum ProcState : std::uint64_t {
  st_waiting = 0,    // suspended; a sender that sees this schedules it
  st_scheduled = 1,  // in a run queue
  st_running = 2,
  st_dead = 3,
};

constexpr std::uint64_t state_word(std::uint32_t gen, std::uint64_t st) {
  return (std::uint64_t{gen} << 2) | st;
}
constexpr std::uint32_t gen_of(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> 2);
}
constexpr std::uint64_t state_of(std::uint64_t word) {
  return word & 3;
}

// The system-lane payload of an exit signal.
struct ExitSignal {
  Pid from;
  ExitReason reason;
  bool from_link;
};

}  // namespace troupe::detail
