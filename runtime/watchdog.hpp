#pragma once
// The watchdog: a thread per runtime that notices a process holding its
// scheduler (running without a suspension point) and contains the damage.
// Troupe's processes are cooperative, so a loop that never suspends cannot be
// preempted; what the watchdog does instead (docs/runtime.md, "A process
// that computes"):
//   - past `migrate_after`, the other runnable processes of that scheduler
//     move to the other schedulers of its group, and processes woken while
//     it stays held go there too, so they keep running;
//   - past `budget`, it reports the process at once: a log warning (component
//     "watchdog", with the pid, its registered name and the time so far) and
//     RuntimeStats::overruns;
//   - past `hard_limit`, the process fails at its next suspension point with
//     reason {error, "cpu limit: ..."}, so that its supervisor restarts it
//     (a log error, and RuntimeStats::cpu_limit_hits).

#include <chrono>
#include <cstdint>

#include "runtime/export.hpp"
#include "runtime/pid.hpp"

namespace troupe {

struct TROUPE_EXPORT WatchdogOptions {
  // Off: no thread, no migration, no reports, no limit (checkpoint() then
  // reads the clock against yield_after).
  bool enabled = true;
  std::chrono::milliseconds yield_after{2};
  std::chrono::milliseconds budget{50};
  // Zero: never.
  std::chrono::milliseconds hard_limit{5000};
  // Zero: processes never move.
  std::chrono::milliseconds migrate_after{4};
  // How often the watchdog looks: the precision of the three limits above.
  std::chrono::milliseconds tick{1};
};

// Counters of the watchdog since the runtime started. Any thread.
struct TROUPE_EXPORT RuntimeStats {
  std::uint64_t overruns = 0;        // runs that passed the budget
  std::uint64_t cpu_limit_hits = 0;  // runs past the hard limit (each fails when it suspends)
  std::uint64_t migrations = 0;      // processes moved off a held scheduler
  std::uint64_t longest_run_ms = 0;  // the longest run the watchdog saw
};

}  // namespace troupe
