#include "net/gateway/detail/session_health.hpp"

#include <algorithm>
#include <random>

namespace troupe::detail {

namespace {

double uniform01() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

SessionHealth::StartDecision SessionHealth::before_start(const std::string& name,
                                                         Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(name);
  if (it == records_.end()) return {};
  Record& r = it->second;
  StartDecision d;
  d.last_error = r.last_error;
  if (now < r.refused_until) {
    d.refused = true;
    d.retry_after = r.refused_until - now;
    return d;
  }
  if (!r.crashed) return d;
  r.crashed = false;
  ++restarts_;
  // The first crash after a healthy run restarts at once, as OTP does;
  // the ones that follow it quickly back off.
  if (r.quick_crashes > 1)
    d.delay =
        backoff_delay(policy_.backoff, static_cast<unsigned>(r.quick_crashes - 2), uniform01());
  return d;
}

void SessionHealth::crashed(const std::string& name, const std::string& why,
                            Clock::time_point started, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  ++crashes_;
  if (records_.size() >= sweep_at_) forget_stale(now);
  Record& r = records_[name];
  r.crashed = true;
  r.last_crash = now;
  r.last_error = why.substr(0, 200);
  if (now - started >= policy_.backoff.reset_after) {
    r.quick_crashes = 1;
    r.refusals = 0;
    r.probation = false;
    return;
  }
  ++r.quick_crashes;
  if (r.quick_crashes < policy_.max_crashes && !r.probation) return;
  // Refused for a while: its clients are told to come back later, and no
  // start is tried meanwhile.
  Duration refuse = policy_.refuse_for;
  for (int i = 0; i < r.refusals && refuse < policy_.refuse_max; ++i) refuse *= 2;
  refuse = std::min(refuse, policy_.refuse_max);
  r.refused_until = now + refuse;
  ++r.refusals;
  r.probation = true;
  r.quick_crashes = 0;
}

void SessionHealth::stopped_cleanly(const std::string& name) {
  std::lock_guard lock(mutex_);
  records_.erase(name);
}

std::optional<Duration> SessionHealth::refused(const std::string& name,
                                               Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(name);
  if (it == records_.end() || now >= it->second.refused_until) return std::nullopt;
  return it->second.refused_until - now;
}

std::uint64_t SessionHealth::restarts() const {
  std::lock_guard lock(mutex_);
  return restarts_;
}

std::uint64_t SessionHealth::crashes() const {
  std::lock_guard lock(mutex_);
  return crashes_;
}

std::size_t SessionHealth::refused_count(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      records_.begin(), records_.end(), [&](auto& kv) { return now < kv.second.refused_until; }));
}

// A record matters while the name is refused, and for a while after its
// last crash (to tell a quick crash loop from isolated crashes); names
// that crashed once and were never asked for again are forgotten.
void SessionHealth::forget_stale(Clock::time_point now) {
  const Duration keep = 2 * std::max(policy_.backoff.reset_after, policy_.refuse_max);
  std::erase_if(records_, [&](const auto& kv) {
    return now >= kv.second.refused_until && now - kv.second.last_crash > keep;
  });
  sweep_at_ = std::max<std::size_t>(1024, 2 * records_.size());
}

}  // namespace troupe::detail
