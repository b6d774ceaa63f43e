#include "supervisors/events.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

namespace troupe {

namespace {

std::mutex hook_mutex;
std::shared_ptr<const SupervisorLog> hook = std::make_shared<const SupervisorLog>(&log_to_stderr);
std::atomic<bool> hook_set{true};

}  // namespace

void set_supervisor_log(SupervisorLog h) {
  std::lock_guard<std::mutex> lock(hook_mutex);
  hook = h ? std::make_shared<const SupervisorLog>(std::move(h)) : nullptr;
  hook_set.store(hook != nullptr, std::memory_order_release);
}

void log_to_stderr(const SupervisorEvent& e) {
  if (e.kind == SupervisorEvent::Kind::child_started) return;
  std::string line = "troupe supervisor: " + to_string(e) + "\n";
  std::fputs(line.c_str(), stderr);
}

const char* to_string(SupervisorEvent::Kind k) {
  switch (k) {
    case SupervisorEvent::Kind::child_started:
      return "child_started";
    case SupervisorEvent::Kind::child_crashed:
      return "child_crashed";
    case SupervisorEvent::Kind::child_restarted:
      return "child_restarted";
    case SupervisorEvent::Kind::restart_delayed:
      return "restart_delayed";
    case SupervisorEvent::Kind::start_failed:
      return "start_failed";
    case SupervisorEvent::Kind::intensity_exceeded:
      return "intensity_exceeded";
    case SupervisorEvent::Kind::auto_shutdown:
      return "auto_shutdown";
  }
  return "?";
}

std::string to_string(const SupervisorEvent& e) {
  std::string out = std::string(to_string(e.kind)) + " supervisor=" + e.supervisor.to_string();
  if (!e.child_id.empty()) out += " child=" + e.child_id;
  if (e.child) out += " pid=" + e.child.to_string();
  switch (e.kind) {
    case SupervisorEvent::Kind::child_crashed:
    case SupervisorEvent::Kind::start_failed:
    case SupervisorEvent::Kind::intensity_exceeded:
      out += " reason=" + e.reason.to_string();
      break;
    case SupervisorEvent::Kind::restart_delayed:
      out += " delay_ms=" +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(e.delay).count());
      break;
    default:
      break;
  }
  return out;
}

namespace detail {

void report(const SupervisorEvent& e) {
  if (!hook_set.load(std::memory_order_acquire)) return;
  std::shared_ptr<const SupervisorLog> h;
  {
    std::lock_guard<std::mutex> lock(hook_mutex);
    h = hook;
  }
  if (h) (*h)(e);
}

}  // namespace detail

}  // namespace troupe
