#pragma once
// Persistence: what every persistent actor of a runtime shares — the store
// (through an AwaitableStore), the key layout, the limits, the record of
// snapshots that crashed their actor (poison), and the report of actors
// whose state could not be saved when they stopped.
//
//   troupe::AwaitableStore client(rt, 0, file_store);
//   troupe::Persistence actors(client, {.generations = 2});
//   // each actor: troupe::PersistentState<Room> state(actors, "rooms/lobby");
//   (persistent_state.hpp)
//   //             troupe::PersistentMap storage(actors, "rooms/lobby");    (persistent_map.hpp)
//
// Key layout, for actor name A (with '%' and '/' escaped as %25 and %2F, so
// that no name's keys can collide with another's) under key_prefix P:
//   P A/head       fence and metadata: its store revision is the revision
//                  of the newest snapshot; the value holds the writer's
//                  incarnation token
//   P A/gen/<i>    snapshot of revision r where i = r mod generations
//   P A/q/<r>      a quarantined (poison or corrupt) snapshot of revision r,
//                  written once and never overwritten
//   P A/kv/<key>   the actor's own key-value storage
//
// Threading: the accessors are pure and may be called from any thread; the
// strike and report members lock a mutex and are called by actors on any
// scheduler. Lifetime: outlives every actor that uses it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persist/awaitable_store.hpp"
#include "runtime/export.hpp"

namespace troupe {

struct TROUPE_EXPORT PersistenceOptions {
  std::string key_prefix = "actor/";
  // Snapshots kept per actor: the newest and generations - 1 before it. At
  // least 1; with 1 there is nothing to fall back to from a poison snapshot.
  unsigned generations = 2;
  // Crashes (error exits) after loading a revision, without committing a
  // newer one, that make the revision poison: the next start quarantines it
  // and loads the generation before it. A snapshot that does not decode is
  // poison at once (its start fails, the next one falls back).
  int poison_strikes = 3;
  // Limits of PersistentMap; larger keys and values are rejected.
  std::size_t max_key_bytes = 2048;
  std::size_t max_value_bytes = 1 << 20;
  // Largest encoded snapshot PersistentState writes (0: no limit). A commit of a
  // larger state fails with StoreErrc::invalid_argument naming the actor, the
  // size and the limit; nothing is written, the actor keeps running with its
  // in-memory state (still dirty, newer than the store), and no background
  // retry happens until the state changes again. The caller decides: undo
  // or trim the change and commit again, or exit (commit_or_exit) so the
  // next incarnation loads the last stored snapshot. Guards the store and
  // every write's cost (each write rewrites the whole snapshot).
  std::size_t max_snapshot_bytes = std::size_t{4} << 20;
  // Backoff between retries of a snapshot write that failed (store down):
  // Backoff{.base = retry_initial, .cap = retry_max}, full jitter (runtime/backoff.hpp).
  Duration retry_initial = std::chrono::milliseconds(50);
  Duration retry_max = std::chrono::seconds(1);
  // Awaited store operations (loads, commits, storage) time out after this.
  Duration op_timeout = std::chrono::seconds(5);
  // Called when an actor stops with state it could not write (also kept in
  // unsaved()). Runs on that actor's scheduler thread; must not block.
  std::function<void(const std::string& actor, const StoreError& error)> on_unsaved;
};

// What the actors of one Persistence have written, for monitoring
// (Gateway's /metrics): totals since the Persistence was made.
struct TROUPE_EXPORT PersistenceStats {
  std::uint64_t writes = 0;          // snapshot writes committed
  std::uint64_t write_failures = 0;  // writes that failed (each is retried)
  Duration write_time{};             // summed time from a write's start to its commit
  std::size_t unsaved_actors = 0;    // live actors with changes not yet written
  Duration oldest_unsaved{};         // how long the oldest of those changes has waited
};

// An actor that stopped without saving its dirty state.
struct TROUPE_EXPORT UnsavedActor {
  std::string actor;
  StoreError error;
};

class TROUPE_EXPORT Persistence {
 public:
  explicit Persistence(AwaitableStore& client, PersistenceOptions options = {});

  AwaitableStore& store() const { return client_; }
  const PersistenceOptions& options() const { return options_; }

  // The key layout above.
  std::string actor_prefix(std::string_view actor) const;
  std::string head_key(std::string_view actor) const;
  std::string generation_key(std::string_view actor, Revision revision) const;
  std::string quarantine_key(std::string_view actor, Revision revision) const;
  std::string storage_prefix(std::string_view actor) const;
  // nullopt if the store can hold every key of the snapshots of `actor`
  // (its head, generations and quarantine at any revision), else why not.
  // PersistentMap keys are checked as they are used. Any thread.
  std::optional<StoreError> check_actor(std::string_view actor) const;

  // Every actor that stopped with unsaved state so far. Any thread.
  std::vector<UnsavedActor> unsaved() const;

  // Monitoring. Any thread. PersistentState reports its writes and when it
  // becomes dirty or clean (keyed by the state's address).
  PersistenceStats metrics() const;
  // A write finished: committed in `took` (the state now clean or not), or failed.
  void record_write(const void* state, bool committed, Duration took, bool clean);
  void record_dirty(const void* state, std::chrono::steady_clock::time_point since);
  void record_clean(const void* state);
  void report_unsaved(const std::string& actor, const StoreError& error);

  // Poison bookkeeping, per actor and revision, kept in memory for the
  // life of this object. Any thread.
  int strikes(const std::string& actor, Revision revision) const;
  void add_strikes(const std::string& actor, Revision revision, int count);
  bool is_poison(const std::string& actor, Revision revision) const {
    return strikes(actor, revision) >= options_.poison_strikes;
  }
  void mark_poison(const std::string& actor, Revision revision) {
    add_strikes(actor, revision, options_.poison_strikes);
  }
  // The actor committed a newer revision: crash strikes below the poison
  // threshold no longer matter (poison marks stay).
  void clear_strikes(const std::string& actor);

 private:
  AwaitableStore& client_;
  PersistenceOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::map<Revision, int>, std::less<>> strikes_;
  std::vector<UnsavedActor> unsaved_;
  std::uint64_t writes_ = 0;
  std::uint64_t write_failures_ = 0;
  Duration write_time_{};
  std::unordered_map<const void*, std::chrono::steady_clock::time_point> dirty_since_;
};

}  // namespace troupe
