#pragma once
// Restart intensity: at most `intensity` restarts within any `period`, as a
// sliding window over the monotonic clock (OTP's MaxR / MaxT). Owned by one
// supervisor process.

#include <chrono>
#include <deque>

#include "runtime/export.hpp"
#include "runtime/receive.hpp"

namespace troupe {

class TROUPE_EXPORT RestartWindow {
 public:
  using Clock = std::chrono::steady_clock;

  RestartWindow(int intensity, Duration period) : intensity_(intensity), period_(period) {}

  // Records a restart at `now`; false if that makes more than `intensity`
  // restarts within the last `period` (the supervisor must give up).
  bool add(Clock::time_point now);
  // Restarts currently inside the window (as of the last add).
  std::size_t size() const { return restarts_.size(); }

 private:
  int intensity_;
  Duration period_;
  std::deque<Clock::time_point> restarts_;  // oldest first
};

}  // namespace troupe
