#include "runtime/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "runtime/detail/sim_hooks.hpp"

namespace troupe {

Duration backoff_delay(const Backoff& b, unsigned n, double u) {
  if (!b.enabled()) return Duration::zero();
  double jitter = std::clamp(b.jitter, 0.0, 1.0);
  u = std::clamp(u, 0.0, 1.0);
  // In double: base * 2^n overflows any integer duration long before the cap matters.
  double ticks =
      static_cast<double>(b.base.count()) * std::ldexp(1.0, static_cast<int>(std::min(n, 1000u)));
  ticks = std::min(ticks, static_cast<double>(b.cap.count()));  // also bounds inf
  ticks *= 1.0 - jitter * u;
  return Duration(static_cast<Duration::rep>(std::max(ticks, 0.0)));
}

Duration backoff_delay(const Backoff& b, unsigned n) {
#ifdef TROUPE_SIMULATION
  // The simulation's draws, so that a run replays from its seed.
  if (detail::SimHooks* hooks = detail::sim_hooks())
    return backoff_delay(b, n, static_cast<double>(hooks->random() >> 11) * 0x1.0p-53);
#endif
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return backoff_delay(b, n, u(rng));
}

std::string to_string(const Backoff& b) {
  if (!b.enabled()) return "none";
  auto ms = [](Duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
  };
  char jitter[32];
  std::snprintf(jitter, sizeof jitter, "%g", b.jitter);
  return "{base=" + ms(b.base) + ", cap=" + ms(b.cap) + ", jitter=" + jitter +
         ", reset_after=" + ms(b.reset_after) + "}";
}

}  // namespace troupe
