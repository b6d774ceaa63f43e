#pragma once
// Exponential backoff with jitter: the one policy for waiting before the next
// try of something that failed (a supervisor's restart, the Redis reconnect,
// a state's write retries, the gateway's alarm reads).
//
// The n-th consecutive retry (n = 0, 1, ...) waits
//
//     d(n)     = min(cap, base * 2^n)
//     delay(n) = d(n) * (1 - jitter * u)            u uniform in [0, 1)
//
// so a delay lies in [(1 - jitter) * d(n), d(n)] and never exceeds cap.
// The default, jitter = 1, is "full jitter": uniform in [0, d(n)], which
// spreads the retries of many clients of one failed dependency best;
// jitter = 0 is plain exponential backoff (deterministic, for tests).
// Plain values and functions: any thread.

#include <chrono>
#include <string>

#include "runtime/export.hpp"
#include "runtime/receive.hpp"

namespace troupe {

struct Backoff {
  Duration base{};  // zero: no backoff (retry at once; a supervisor restarts as OTP does)
  Duration cap = std::chrono::seconds(30);
  double jitter = 1.0;  // fraction of d(n) drawn away, in [0, 1]; 1: full jitter
  // Used by supervisors: the count n goes back to 0 once the child has
  // stayed up this long. Other users reset on their first success.
  Duration reset_after = std::chrono::seconds(10);

  bool enabled() const { return base > Duration::zero(); }
  friend bool operator==(const Backoff&, const Backoff&) = default;
};

// The delay before retry number `n` (0-based) with random draw `u` in [0, 1).
TROUPE_EXPORT Duration backoff_delay(const Backoff& b, unsigned n, double u);
// The same with `u` drawn from the calling thread's generator.
TROUPE_EXPORT Duration backoff_delay(const Backoff& b, unsigned n);

TROUPE_EXPORT std::string to_string(const Backoff& b);

// Failures in a row of one operation and the wait before its next attempt.
// Not thread-safe: one owner.
class TROUPE_EXPORT BackoffCounter {
 public:
  explicit BackoffCounter(Backoff b) : backoff_(b) {}
  // Counts one more failure and returns the delay before the next attempt.
  Duration next() { return backoff_delay(backoff_, failures_++); }
  // A success: the next failure waits at most base again.
  void reset() { failures_ = 0; }
  unsigned failures() const { return failures_; }
  const Backoff& backoff() const { return backoff_; }

 private:
  Backoff backoff_;
  unsigned failures_ = 0;
};

}  // namespace troupe
