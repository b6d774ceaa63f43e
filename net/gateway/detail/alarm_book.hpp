#pragma once
// The alarms of one route's sessions (Session::set_alarm): in memory, where
// the sessions and the route's alarm keeper read them, and in the gateway's
// store (one key per session: <prefix><name> → milliseconds since the
// epoch), so that they outlive the sessions' processes and the server.
//
// The keeper is one process per route. It reads the store's alarms when it
// starts and, whenever an alarm is due, wakes its session: a running one
// is poked (it fires its alarm on its own timer), one that is not running
// is started (it finds the due alarm when it starts). It wakes a due
// session again every retry interval until the session clears the alarm,
// which covers a session that was stopping as the alarm came due.
//
// Threading: the book's members may be called from any thread (sessions of
// one route run on every scheduler); the awaiting ones from a process.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "persist/awaitable_store.hpp"
#include "runtime/process.hpp"

namespace troupe::detail {

class AlarmBook {
 public:
  using Time = std::chrono::system_clock::time_point;

  // store may be null (memory only). key_prefix: "alarms/rooms/".
  // keeper: the registry name of the route's keeper, told when an alarm becomes the earliest.
  AlarmBook(Runtime& rt, AwaitableStore* store, std::string key_prefix, std::string keeper);

  std::optional<Time> get(const std::string& name) const;
  std::size_t size() const;

  // Sets name's alarm, in memory at once, then in the store (awaited). In
  // a cluster, `fence` is the session's (the write is refused if stale).
  Task<StoreResult<void>> set(Process& self, const std::string& name, Time at,
                              const std::optional<StoreFence>& fence = {});
  // Clears name's alarm; with `only_if`, only if it is still that time (an
  // alarm fired: keep the one its handler set). Awaits the store.
  Task<StoreResult<void>> clear(Process& self, const std::string& name,
                                std::optional<Time> only_if = {},
                                const std::optional<StoreFence>& fence = {});

  // In a cluster, where other nodes set and clear alarms too: reads name's
  // alarm from the store into memory (before its session starts here), or
  // forgets it in memory only (its session lives on another node).
  Task<StoreResult<void>> refresh(Process& self, const std::string& name);
  void forget(const std::string& name);

  // For the keeper: merges the store's alarms in (an alarm set in memory
  // since wins) and returns the names it added.
  Task<StoreResult<std::vector<std::string>>> load(Process& self);
  // The names whose alarm is at or before `now`, earliest first.
  std::vector<std::string> due(Time now) const;
  // The earliest alarm after `now`.
  std::optional<Time> next_after(Time now) const;

  const std::string& keeper() const { return keeper_; }

 private:
  void erase_locked(const std::string& name);

  Runtime& rt_;
  AwaitableStore* store_;
  std::string key_prefix_;
  std::string keeper_;
  mutable std::mutex mutex_;
  std::map<std::string, Time> by_name_;
  std::set<std::pair<Time, std::string>> by_time_;
};

// Sent to the keeper when an alarm changed, and to a running session when
// the keeper found its alarm due or loaded one for it.
struct AlarmsChanged {};

struct AlarmKeeperHooks {
  // Sends AlarmsChanged to the session if it runs; false if it does not.
  std::function<bool(const std::string& name)> poke;
  // Starts the session (asynchronously; it fires its due alarm itself).
  std::function<void(const std::string& name)> start;
  Duration retry_interval = std::chrono::seconds(1);
  // Reads the store's alarms again this often (zero: only at start); in a
  // cluster, alarms set on other nodes come due here too when those die.
  Duration reload_every{};
};

// The keeper's body (see above). Runs until it is shut down.
Proc alarm_keeper(Process& self, AlarmBook& book, AlarmKeeperHooks hooks);

}  // namespace troupe::detail
