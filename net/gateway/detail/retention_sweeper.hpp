#pragma once
// Retention (GatewayOptions::retention, docs/persist.md): the state of a
// name whose session has not run for the retention period is erased, and
// what the sessions' Persistence holds is counted for /metrics.
//
// Use records. Each name's last use is a key in the gateway's store,
// use_prefix + "<route>/<name>" (e.g. "used/rooms/lobby"), its value the
// time in milliseconds since the epoch, written when an incarnation of the
// session starts and when it ends (UseScope), never per message. With
// retention off none is written, and the sweeper deletes any left from a run
// with it on, so that turning it on again starts every name's period
// afresh. A head in the Persistence with no use record (state from before
// retention was on) gets a record with the time of the sweep that finds it.
//
// Erasure never overlaps an incarnation: the Retention object keeps, per
// name, the incarnations running (between UseScope::enter and the scope's
// end) and whether the sweeper is erasing it. The sweeper claims a name only
// while none runs; an incarnation that starts meanwhile waits in
// UseScope::enter, before its session's on_start loads anything, until the
// erase is over (then starts from the initial state). After claiming, the
// sweeper reads the name's use record again, so a use between its listing
// and its claim keeps the state.
//
// Threading: the members marked "any thread" lock a mutex; the sweeper is
// one process, a child of the gateway's root supervisor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/gateway/detail/alarm_book.hpp"
#include "persist/persistence.hpp"
#include "supervisors/spec.hpp"

namespace troupe {

struct GatewayOptions;

namespace detail {

class Retention {
 public:
  // From the gateway's options: retention, its sweep interval, the stores.
  Retention(Runtime& rt, const GatewayOptions& options);

  // Before the gateway starts: a route's registry prefix ("rooms/") and its
  // alarms (a name with an alarm pending is in use: it is never erased).
  void add_route(std::string names, const AlarmBook* alarms);

  // The sweeper, as a child of the gateway's root supervisor.
  ChildSpec child_spec();

  // The /metrics lines: troupe_stored_keys and troupe_stored_bytes (from the
  // last census, when there is a Persistence), troupe_retention_erased_total
  // (names erased) and troupe_retention_sweeps_total (passes of the sweeper,
  // each ending with a census). Any thread.
  void write_metrics(std::ostream& out) const;

  bool enabled() const { return retention_ > Duration::zero(); }
  Duration sweep_interval() const { return sweep_interval_; }
  Duration census_interval() const { return census_interval_; }

  // For UseScope, any thread: counts an incarnation of `name` running
  // unless the sweeper is erasing it, in which case `waiter` is told with
  // ErasureDone when it is over and false is returned.
  bool try_enter(const std::string& name, Pid waiter);
  void leave(const std::string& name);
  // Writes name's use record with the current time (not awaited: it goes to
  // the store's loop in order with the sweeper's later reads). Any thread.
  void record_use(const std::string& name);

  // The sweeper's body (retention_sweeper.cpp).
  Proc sweep_loop(Process& self);

 private:
  struct Route {
    std::string names;
    const AlarmBook* alarms;
  };
  struct NameState {
    int running = 0;
    bool erasing = false;
    std::vector<Pid> waiters;
  };
  class Claim;

  // The route of "<route>/<name>" and the name within it, if it is one of ours.
  const Route* route_of(const std::string& full, std::string* name = nullptr) const;
  bool is_running(const std::string& full) const;
  bool claim(const std::string& full);
  void release(const std::string& full);

  Task<> sweep(Process& self, std::unordered_set<std::string>& recorded);
  Task<> erase_name(Process& self, const std::string& full);
  Task<> census(Process& self, const std::unordered_set<std::string>* recorded);
  Task<> drop_records(Process& self);

  Runtime& rt_;
  Duration retention_;
  Duration sweep_interval_;
  Duration census_interval_;
  AwaitableStore* records_;  // use records; null: nowhere to keep them
  std::string use_prefix_;
  AwaitableStore* alarm_store_;
  std::string alarm_prefix_;
  const Persistence* actors_;
  std::vector<Route> routes_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, NameState> names_;

  std::atomic<std::uint64_t> stored_keys_{0};
  std::atomic<std::uint64_t> stored_bytes_{0};
  std::atomic<std::uint64_t> erased_{0};  // names
  std::atomic<std::uint64_t> passes_{0};  // of the sweeper: a census each, and a due sweep
};

// Sent to an incarnation waiting in UseScope::enter when the erase of its
// name is over.
struct ErasureDone {
  std::string name;
};

// One incarnation's use of its name, for the session's process: enter()
// before the session starts (waits out an erase of the name, then writes the
// use record); the end of the scope writes it again and lets the sweeper
// erase the name once its period has passed. Lives in the process's
// coroutine frame, so it ends however the process does.
class UseScope {
 public:
  UseScope(Retention& retention, std::string name)
      : retention_(retention), name_(std::move(name)) {}
  ~UseScope();
  UseScope(const UseScope&) = delete;
  UseScope& operator=(const UseScope&) = delete;

  Task<> enter(Process& self);

 private:
  Retention& retention_;
  std::string name_;
  bool entered_ = false;
};

}  // namespace detail
}  // namespace troupe
