#pragma once
// The crash record of a route's sessions, by name: what keeps one name's
// failures from costing any other name (docs/supervisors.md, "Faults stay
// with their name"). Sessions are temporary children of their route's
// supervisor, so a crash never counts against its restart intensity; the
// gateway restarts a crashed session itself, as paced by this record:
//
//   crash after a healthy run (>= backoff.reset_after)  restart at once
//   crash soon after its start, n-th in a row            restart after backoff_delay(n - 1)
//   max_crashes such crashes in a row                    the name is refused for refuse_for
//                                                        (doubling per refusal in a row,
//                                                        up to refuse_max); after that one
//                                                        start is tried, and a quick crash
//                                                        refuses it again at once
//
// Names that never crashed have no record. Thread-safe: the sessions (any
// scheduler), their watchers and the loops' admission checks share it.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "net/gateway/gateway.hpp"

namespace troupe::detail {

using Clock = std::chrono::steady_clock;

class SessionHealth {
 public:
  explicit SessionHealth(CrashPolicy policy) : policy_(std::move(policy)) {}

  struct StartDecision {
    // Refused: the name's clients get "unavailable" until retry_after passes.
    bool refused = false;
    Duration retry_after{};
    // Admitted: the new incarnation waits this long before on_start.
    Duration delay{};
    std::string last_error;  // why its previous incarnation ended
  };
  // The one starter of `name` is about to start it.
  StartDecision before_start(const std::string& name, Clock::time_point now);
  // An incarnation of `name` that started at `started` crashed with `why`.
  void crashed(const std::string& name, const std::string& why, Clock::time_point started,
               Clock::time_point now);
  // It stopped on its own (idle, shutdown): its record goes.
  void stopped_cleanly(const std::string& name);
  // How long `name` stays refused, if it is.
  std::optional<Duration> refused(const std::string& name, Clock::time_point now) const;

  // For /metrics.
  std::uint64_t restarts() const;
  std::uint64_t crashes() const;
  std::size_t refused_count(Clock::time_point now) const;

 private:
  struct Record {
    int quick_crashes = 0;   // in a row, each before the incarnation ran reset_after
    int refusals = 0;        // in a row
    bool crashed = false;    // its last incarnation crashed (the next start is a restart)
    bool probation = false;  // refused before: one quick crash refuses it again
    Clock::time_point last_crash{};
    Clock::time_point refused_until{};
    std::string last_error;
  };
  void forget_stale(Clock::time_point now);

  CrashPolicy policy_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Record> records_;
  std::size_t sweep_at_ = 1024;
  std::uint64_t restarts_ = 0;
  std::uint64_t crashes_ = 0;
};

}  // namespace troupe::detail
