#include "net/ws/detail/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace troupe::detail {

TokenBucket::TokenBucket(double rate_per_second, double burst, std::uint64_t now_ms)
    : rate_(rate_per_second > 0 ? rate_per_second / 1000.0 : 0),
      burst_(std::max(burst, 1.0)),
      tokens_(burst_),
      last_ms_(now_ms) {}

void TokenBucket::refill(std::uint64_t now_ms) {
  if (now_ms <= last_ms_) return;
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_);
  last_ms_ = now_ms;
}

bool TokenBucket::take(double cost, std::uint64_t now_ms) {
  if (!enabled()) return true;
  refill(now_ms);
  tokens_ -= cost;
  return tokens_ >= 0;
}

std::uint64_t TokenBucket::ms_until_clear(std::uint64_t now_ms) const {
  if (!enabled()) return 0;
  const double elapsed = now_ms > last_ms_ ? static_cast<double>(now_ms - last_ms_) : 0.0;
  const double debt = -(tokens_ + elapsed * rate_);
  if (debt <= 0) return 0;
  return static_cast<std::uint64_t>(std::ceil(debt / rate_));
}

RateLimiter::RateLimiter(const ws::RateLimit& limit, std::uint64_t now_ms)
    : close_after_ms_(limit.close_after.count() > 0
                          ? static_cast<std::uint64_t>(limit.close_after.count())
                          : 0) {
  if (limit.messages_per_second > 0)
    messages_ = TokenBucket(limit.messages_per_second, limit.message_burst, now_ms);
  if (limit.bytes_per_second > 0)
    bytes_ = TokenBucket(limit.bytes_per_second, limit.byte_burst, now_ms);
}

RateLimiter::Verdict RateLimiter::on_message(std::size_t bytes, std::uint64_t now_ms) {
  const bool messages_ok = messages_.take(1, now_ms);
  const bool bytes_ok = bytes_.take(static_cast<double>(bytes), now_ms);
  if (messages_ok && bytes_ok) {
    if (messages_.half_full() && bytes_.half_full()) over_since_ms_ = 0;
    return Verdict::within;
  }
  if (over_since_ms_ == 0) over_since_ms_ = std::max<std::uint64_t>(now_ms, 1);
  if (close_after_ms_ != 0 && now_ms - over_since_ms_ >= close_after_ms_) return Verdict::close;
  return Verdict::slow;
}

std::uint64_t RateLimiter::resume_at(std::uint64_t now_ms) const {
  return now_ms + std::max(messages_.ms_until_clear(now_ms), bytes_.ms_until_clear(now_ms));
}

}  // namespace troupe::detail
