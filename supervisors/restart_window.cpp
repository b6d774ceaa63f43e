#include "supervisors/restart_window.hpp"

namespace troupe {

bool RestartWindow::add(Clock::time_point now) {
  restarts_.push_back(now);
  // A restart exactly `period` ago has left the window (OTP: strictly within).
  while (!restarts_.empty() && now - restarts_.front() >= period_) restarts_.pop_front();
  return restarts_.size() <= static_cast<std::size_t>(intensity_);
}

}  // namespace troupe
