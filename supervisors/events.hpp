#pragma once
// What supervisors report (OTP's supervisor reports), through one pluggable
// hook. The default hook, log_supervisor_event, hands each event to the log
// sink (runtime/log.hpp, component "supervisor"): child_started at debug (so
// dropped by default, as OTP's progress reports are), child_crashed,
// start_failed and intensity_exceeded at error, the others at info.
//
//   troupe::set_supervisor_log(nullptr);                  // silence
//   troupe::set_supervisor_log([](const troupe::SupervisorEvent& e) { ... });
//
// The hook runs on the supervisor's scheduler thread, possibly on several
// threads at once (one per supervisor): it must be thread-safe and quick.

#include <functional>
#include <iosfwd>
#include <string>

#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"
#include "runtime/pid.hpp"
#include "runtime/receive.hpp"

namespace troupe {

struct TROUPE_EXPORT SupervisorEvent {
  enum class Kind {
    child_started,       // first start of a child
    child_crashed,       // a child ended abnormally; `reason` says why
    child_restarted,     // a child was started again after it ended
    restart_delayed,     // backoff: the restart waits `delay`
    start_failed,        // starting a child failed (not a crash); `reason` says why
    intensity_exceeded,  // too many restarts: the supervisor stops its children and exits
    auto_shutdown,       // significant children ended: the supervisor stops
  };
  Kind kind = Kind::child_started;
  Pid supervisor;
  std::string child_id;  // a dynamic supervisor's children are named by their first Pid
  Pid child;             // the child's Pid (the old one for crashed, the new one for restarted)
  ExitReason reason;
  Duration delay{};
};

using SupervisorLog = std::function<void(const SupervisorEvent&)>;

// Replaces the hook for every supervisor; nullptr silences them. Any thread;
// events already being reported may still reach the previous hook.
TROUPE_EXPORT void set_supervisor_log(SupervisorLog hook);
// The default hook (to the log sink), e.g. to chain to it from your own.
TROUPE_EXPORT void log_supervisor_event(const SupervisorEvent& e);

TROUPE_EXPORT const char* to_string(SupervisorEvent::Kind k);
TROUPE_EXPORT std::string to_string(const SupervisorEvent& e);

namespace detail {
// Reports `e` to the current hook. Cheap when silenced.
TROUPE_EXPORT void report(const SupervisorEvent& e);
}  // namespace detail

}  // namespace troupe
