#pragma once
// The runtime's clocks. Everything in Troupe that measures time (timers,
// receive and call timeouts, restart windows, debounce windows, alarms,
// idle stops) reads these, so that troupe::testing can run it on virtual
// time; in normal builds they are std::chrono's clocks.

#include <chrono>

#include "runtime/export.hpp"

namespace troupe {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

// steady_clock::now(), or the simulation's virtual time.
TROUPE_EXPORT SteadyTime steady_now();
// system_clock::now(), or the simulation's virtual wall clock.
TROUPE_EXPORT SystemTime system_now();

}  // namespace troupe
