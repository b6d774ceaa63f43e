#include "runtime/clock.hpp"

#include "runtime/detail/sim_hooks.hpp"

namespace troupe {

SteadyTime steady_now() {
#ifdef TROUPE_SIMULATION
  if (detail::SimHooks* hooks = detail::sim_hooks())
    return SteadyTime(std::chrono::nanoseconds(hooks->steady_now_ns()));
#endif
  return std::chrono::steady_clock::now();
}

SystemTime system_now() {
#ifdef TROUPE_SIMULATION
  if (detail::SimHooks* hooks = detail::sim_hooks())
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
        std::chrono::nanoseconds(hooks->system_now_ns())));
#endif
  return std::chrono::system_clock::now();
}

namespace detail {

SimHooks*& sim_hooks() {
  static SimHooks* hooks = nullptr;
  return hooks;
}

bool simulation_build() {
#ifdef TROUPE_SIMULATION
  return true;
#else
  return false;
#endif
}

}  // namespace detail
}  // namespace troupe
