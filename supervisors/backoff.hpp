#pragma once
// Restart backoff for one child (beyond OTP, which restarts at once).
//
// The n-th consecutive restart (n = 0, 1, ...) waits
//
//     delay(n) = min(cap, base * 2^n * (1 + jitter * (2u - 1)))     u uniform in [0, 1)
//
// i.e. jitter spreads the exponential delay by up to ±jitter of itself, and
// the cap bounds the result after jitter (so no delay ever exceeds cap).
// n goes back to 0 once the child has stayed up for `reset_after`.
// Plain values and pure functions: any thread.

#include <chrono>
#include <string>

#include "runtime/export.hpp"
#include "runtime/receive.hpp"

namespace troupe {

struct TROUPE_EXPORT Backoff {
  Duration base{};  // zero: no backoff (restart at once, as OTP does)
  Duration cap = std::chrono::seconds(30);
  double jitter = 0.2;  // fraction in [0, 1]
  Duration reset_after = std::chrono::seconds(10);

  bool enabled() const { return base > Duration::zero(); }
  friend bool operator==(const Backoff&, const Backoff&) = default;
};

// The delay before restart number `n` (0-based) with random draw `u` in [0, 1).
Duration backoff_delay(const Backoff& b, unsigned n, double u);

TROUPE_EXPORT std::string to_string(const Backoff& b);

}  // namespace troupe
