#include "supervisors/events.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>

#include "runtime/log.hpp"

namespace troupe {

namespace {

std::mutex hook_mutex;
std::shared_ptr<const SupervisorLog> hook =
    std::make_shared<const SupervisorLog>(&log_supervisor_event);
std::atomic<bool> hook_set{true};

}  // namespace

void set_supervisor_log(SupervisorLog h) {
  std::lock_guard<std::mutex> lock(hook_mutex);
  hook = h ? std::make_shared<const SupervisorLog>(std::move(h)) : nullptr;
  hook_set.store(hook != nullptr, std::memory_order_release);
}

void log_supervisor_event(const SupervisorEvent& e) {
  LogLevel level = LogLevel::info;
  switch (e.kind) {
    case SupervisorEvent::Kind::child_started:
      level = LogLevel::debug;
      break;
    case SupervisorEvent::Kind::child_crashed:
    case SupervisorEvent::Kind::start_failed:
    case SupervisorEvent::Kind::intensity_exceeded:
      level = LogLevel::error;
      break;
    default:
      break;
  }
  if (!log_enabled(level)) return;
  const std::string supervisor = e.supervisor.to_string();
  const std::string pid = e.child ? e.child.to_string() : std::string();
  std::string reason;
  std::string delay_ms;
  LogField fields[5];
  std::size_t n = 0;
  fields[n++] = {"supervisor", supervisor};
  if (!e.child_id.empty()) fields[n++] = {"child", e.child_id};
  if (e.child) fields[n++] = {"pid", pid};
  switch (e.kind) {
    case SupervisorEvent::Kind::child_crashed:
    case SupervisorEvent::Kind::start_failed:
    case SupervisorEvent::Kind::intensity_exceeded:
      reason = to_string(e.reason);
      fields[n++] = {"reason", reason};
      break;
    case SupervisorEvent::Kind::restart_delayed:
      delay_ms =
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(e.delay).count());
      fields[n++] = {"delay_ms", delay_ms};
      break;
    default:
      break;
  }
  log(level, "supervisor", to_string(e.kind), std::span<const LogField>(fields, n));
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
      out += " reason=" + to_string(e.reason);
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
