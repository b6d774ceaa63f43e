#pragma once
// Token buckets for ws::RouteLimits::rate_limit: what one connection may send.
// Plain values, used on the connection's loop thread only; time is passed
// in (milliseconds of the loop's clock), so they are testable without one.

#include <cstddef>
#include <cstdint>

#include "net/ws/handler.hpp"

namespace troupe::detail {

class TokenBucket {
 public:
  TokenBucket() = default;  // off: take() always succeeds
  TokenBucket(double rate_per_second, double burst, std::uint64_t now_ms);

  bool enabled() const { return rate_ > 0; }
  // Refills up to now_ms, then takes `cost`, which may leave a debt (the
  // message has arrived already). True when no debt remains.
  bool take(double cost, std::uint64_t now_ms);
  // At least half the burst is left (the client has slowed down since).
  bool half_full() const { return !enabled() || tokens_ * 2 >= burst_; }
  // Milliseconds from now_ms until the debt is paid (0 without one).
  std::uint64_t ms_until_clear(std::uint64_t now_ms) const;

 private:
  void refill(std::uint64_t now_ms);

  double rate_ = 0;  // tokens per millisecond
  double burst_ = 0;
  double tokens_ = 0;
  std::uint64_t last_ms_ = 0;
};

// Both buckets of a connection and how long it has been over them.
class RateLimiter {
 public:
  enum class Verdict : std::uint8_t {
    within,  // carry on
    slow,    // stop reading until resume_at()
    close,   // over the rate for close_after: close with 1008
  };

  RateLimiter() = default;
  RateLimiter(const ws::RateLimit& limit, std::uint64_t now_ms);

  bool enabled() const { return messages_.enabled() || bytes_.enabled(); }
  // A whole message of `bytes` arrived at now_ms.
  Verdict on_message(std::size_t bytes, std::uint64_t now_ms);
  // When both buckets are clear again (after a `slow` verdict).
  std::uint64_t resume_at(std::uint64_t now_ms) const;

 private:
  TokenBucket messages_;
  TokenBucket bytes_;
  std::uint64_t close_after_ms_ = 0;
  // When the connection went over its rate (0: it is not). It stays over
  // until it has slowed down enough to refill half its burst: a flooder
  // resumed with a few tokens does not count as within its rate.
  std::uint64_t over_since_ms_ = 0;
};

}  // namespace troupe::detail
