#pragma once
// PersistentState<S>: an actor's state that outlives the actor. Loaded before the
// actor handles its first message, written back as the actor chooses
// (durability), fenced against stale incarnations, migrated across schema
// versions, and rolled back one generation when a snapshot is poison.
//
//   struct Room { std::vector<std::string> lines; MSGPACK_DEFINE(lines) };
//
//   troupe::PersistentState<Room> state(actors, "rooms/lobby");   // actors: Persistence
//   co_await state.load(self);                 // before any message; exits on failure
//   state.mutate().lines.push_back("hi");      // marks it dirty (default durability)
//   co_await state.commit_or_exit(self);       // durable now: acknowledge the client
//   ...
//   // in the receive loop, hand the actor's own messages to the state:
//   co_await self.receive([&](troupe::AnyMessage& m) { if (!state.handle(m)) ...; });
//   // when stopping (terminate, on_stop, idle):
//   co_await state.flush(self, reason);
//
// Life of a snapshot:
//   load    head's revision r (0 and S's initial state when there is none);
//           snapshot r from its generation slot, decoded and, if it has an
//           older schema version, migrated. A snapshot that does not decode
//           (bad magic, checksum, not an S, a future schema) is copied to its
//           quarantine key and the load fails: the actor exits with a reason
//           naming the key and the cause, and its supervisor restarts it
//           (backoff applies); that start loads the generation before it. A
//           revision whose incarnations crashed poison_strikes times without
//           committing anything newer is handled the same way.
//   write   every write is one atomic batch: head at revision r + 1
//           (compare-and-set: only if head is still at r) and the envelope in
//           slot (r + 1) mod generations. An incarnation that is not the newest
//           (its name went to another, or it is a zombie of a restart) loses
//           the compare-and-set: the actor exits with reason "persist: stale
//           incarnation ... fenced" so its supervisor hears of it. With
//           PersistentStateOptions::fence the batch also carries the
//           owner's fencing token, and a store that holds a higher one
//           refuses it (StoreErrc::fenced): the same exit, even when the
//           newer owner has not written yet. A write
//           whose outcome was unknown (connection lost) is retried; if it had
//           been applied, the retry recognises the actor's own token in head.
//   when    Durability: write_through starts a write at once and commit()
//           awaits it (the durable acknowledgement); debounce(wait, max_wait)
//           writes when no change came for `wait`, or `max_wait` after the
//           first unwritten change, newest state winning; on_stop writes only
//           in flush(). At most one write per actor is in flight. A failed
//           write is retried with backoff while the actor runs.
//   size    a snapshot that encodes larger than PersistenceOptions::
//           max_snapshot_bytes is not written: commit() fails with
//           StoreErrc::invalid_argument (the actor, the size, the limit), the
//           in-memory state stays as mutated (dirty, ahead of the store) and
//           the actor keeps running; nothing retries until the next change.
//           The caller rolls back or trims and commits again, or exits so the
//           restart loads the last stored snapshot; flush() reports it unsaved.
//   stop    flush(self, reason, deadline) writes the dirty state before the
//           actor exits; state it cannot write by the deadline is reported
//           (Persistence::unsaved, on_unsaved, stderr). After a crash (an
//           error reason) the in-memory state is suspect and is not written
//           unless write_on_crash is set: the restart resumes from the last
//           written state, as in Erlang.
//
// Threading: a PersistentState belongs to one process; every member is for that
// process's body (and coroutines it awaits) only. It must not move once
// load() has run (the actor's messages name it by a token), so keep it as a
// member of the actor or in its coroutine frame.
//
// Messages: writes complete, and timers fire, by ordinary messages to the
// actor (they are small). The actor passes every message it does not know
// to handle(); a Server does that with PersistentServer (persistent_server.hpp).
// Give a persistent actor an unbounded mailbox: a bounded one could reject
// them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <utility>

#include "persist/persistence.hpp"
#include "persist/snapshot_codec.hpp"
#include "runtime/export.hpp"
#include "runtime/process.hpp"
#include "runtime/receive.hpp"

namespace troupe {

// When a change is written.
struct TROUPE_EXPORT Durability {
  enum class Mode : std::uint8_t { write_through, debounce, on_stop };
  Mode mode = Mode::write_through;
  Duration wait{};
  Duration max_wait{};

  static Durability write_through() { return {Mode::write_through, {}, {}}; }
  static Durability debounce(Duration wait, Duration max_wait) {
    return {Mode::debounce, wait, max_wait < wait ? wait : max_wait};
  }
  static Durability on_stop() { return {Mode::on_stop, {}, {}}; }
};

struct TROUPE_EXPORT PersistentStateOptions {
  // For changes made with mutate() without an explicit durability.
  Durability durability = Durability::write_through();
  // Write the dirty state in flush() after a crash too (see "stop" above).
  bool write_on_crash = false;
  // flush()'s default deadline.
  Duration flush_deadline = std::chrono::seconds(5);
  // When set, every snapshot write carries WriteOp::fence(key, token) (see
  // Fences in persist/store.hpp): a write refused by it exits the actor as a
  // stale incarnation, naming the fence, and is never retried. The state
  // does not raise the fence itself: the owner that claimed the name raises
  // it (a batch of that one op) before load(). The key must be a key of its
  // own, not one of the actor's snapshot keys.
  std::optional<StoreFence> fence;
};

// How the state of one actor stands against the store; see stats().
struct TROUPE_EXPORT StateStats {
  Revision revision = 0;            // the newest revision this incarnation knows is stored
  bool dirty = false;               // changes not yet written
  Duration dirty_age{};             // since the oldest unwritten change
  std::size_t dirty_bytes = 0;      // the encoded size of the state to write (0 when clean)
  std::uint64_t dirty_changes = 0;  // mutate() calls not yet written
  bool write_in_flight = false;
  std::optional<StoreError> last_error;  // of the last failed write, until one succeeds
};

// The non-template part of PersistentState<S>: the protocol with the store.
class TROUPE_EXPORT PersistentStateBase {
 public:
  PersistentStateBase(const PersistentStateBase&) = delete;
  PersistentStateBase& operator=(const PersistentStateBase&) = delete;

  // Loads the newest usable snapshot (see "load" above). On failure the
  // process exits with an error reason naming the actor, the key and the
  // cause. Call once, first.
  Task<> load(Process& self);

  // Writes every change made so far and waits until it is stored: the
  // revision, or the error (StoreErrc::unavailable while the store is down,
  // or after `timeout`). A failed commit leaves the state dirty and retried
  // in the background. Exits the process if it is fenced.
  Task<StoreResult<Revision>> commit(Process& self);
  Task<StoreResult<Revision>> commit(Process& self, Duration timeout);
  // commit, exiting with a reason naming the actor and the error if it fails.
  Task<Revision> commit_or_exit(Process& self);

  // Writes the dirty state before the actor stops, retrying until
  // `deadline`; reports it if it cannot (see "stop" above). After a crash
  // reason it records a poison strike instead (unless write_on_crash).
  Task<StoreResult<void>> flush(Process& self, const ExitReason& reason = normal);
  Task<StoreResult<void>> flush(Process& self, const ExitReason& reason, Duration deadline);

  // Records that this incarnation crashed before it could serve (for a
  // start that fails after load(); flush() does it for later crashes).
  void record_crash();

  // Consumes the state's own messages (write completions, timers); false for
  // any other message, which stays the caller's to handle. May exit the
  // process (fenced). Call it for every message the actor does not know.
  bool handle(AnyMessage& message);

  StateStats stats() const;
  Revision revision() const { return revision_; }
  bool loaded() const { return self_ != nullptr; }
  bool dirty() const { return changes_ != written_changes_; }
  const std::string& actor() const { return actor_; }
  // The revision the state was loaded from (older than revision() after a
  // fallback from a poison snapshot).
  Revision loaded_revision() const { return loaded_from_; }

  // Messages between the state and its store callbacks (public so that the
  // callbacks may build them; not for users).
  struct WriteDone;
  struct Tick;

 protected:
  PersistentStateBase(Persistence& store, std::string actor, std::uint32_t schema_version,
                      PersistentStateOptions options);
  ~PersistentStateBase();

  // Marks the state changed; the write follows per durability.
  void touch(std::optional<Durability> durability);

  // The typed part: encode the state's payload, decode a snapshot into the
  // state (migrating older schemas), reset to the initial state.
  virtual std::string encode_payload() const = 0;
  virtual CodecResult<void> decode_payload(const Snapshot& snapshot) = 0;
  virtual void reset_state() = 0;

 private:
  using Clock = std::chrono::steady_clock;
  struct InFlight {
    std::uint64_t id = 0;
    Revision revision = 0;
    std::uint64_t changes = 0;
    bool urgent = false;                 // restored if the write fails
    std::optional<Durability> debounce;  // likewise
    Clock::time_point started{};
  };

  Task<bool> load_revision(Process& self, Revision revision, bool newest);
  Task<> quarantine(Process& self, Revision revision, std::string blob);
  void fail_load(const std::string& key, const std::string& cause);
  void start_write();
  void on_write_done(WriteDone& done);
  void schedule();
  void tick_at(Clock::time_point at);
  [[noreturn]] void exit_fenced();
  std::string encode_head() const;

  Persistence& store_;
  std::string actor_;
  std::string head_key_;
  std::uint32_t schema_;
  PersistentStateOptions options_;
  std::uint64_t token_;  // this incarnation, written into head with each snapshot
  Process* self_ = nullptr;

  Revision revision_ = 0;
  Revision loaded_from_ = 0;
  bool committed_since_load_ = false;

  std::uint64_t changes_ = 0;          // mutate() calls
  std::uint64_t written_changes_ = 0;  // covered by the newest committed write
  Clock::time_point first_dirty_{};
  Clock::time_point last_change_{};
  bool urgent_ = false;  // a write_through change is waiting for its write
  std::optional<Durability> debounce_;
  std::optional<InFlight> in_flight_;
  std::uint64_t next_write_id_ = 0;
  std::optional<Clock::time_point> tick_at_;
  std::uint64_t next_tick_id_ = 0;
  std::uint64_t tick_id_ = 0;
  std::optional<Clock::time_point> retry_at_;
  unsigned failed_writes_ = 0;  // in a row: the retry backoff's n
  std::optional<StoreError> last_error_;
  std::optional<std::string> fenced_;
  // changes_ when the state last encoded over max_snapshot_bytes.
  std::optional<std::uint64_t> oversize_at_changes_;
};

// What the actor's type says about its state: its schema version, its
// initial state, and how to upgrade a snapshot of an older version.
template <class S>
struct StateSchema {
  std::uint32_t version = 1;
  // The state when nothing is stored yet (also after a fallback to revision 0).
  std::function<S()> initial = [] {
    return S{};
  };
  // Upgrades a snapshot written with schema `old_version` (< version), given
  // as the msgpack object it decodes to. Empty: older versions fail the load.
  // May throw: the load then fails as a type mismatch naming the cause.
  std::function<S(std::uint32_t old_version, const msgpack::object& old)> migrate;
};

// S: default-constructible, with a msgpack adaptor (MSGPACK_DEFINE).
template <class S>
class PersistentState final : public PersistentStateBase {
 public:
  PersistentState(Persistence& store, std::string actor, StateSchema<S> schema = {},
                  PersistentStateOptions options = {})
      : PersistentStateBase(store, std::move(actor), schema.version, options),
        schema_(std::move(schema)),
        state_(schema_.initial()) {}

  const S& get() const { return state_; }
  const S& operator*() const { return state_; }
  const S* operator->() const { return &state_; }

  // The state, to change now; marks it dirty (written per `durability`, or
  // the actor's default). Call it for every change, before making it.
  S& mutate(std::optional<Durability> durability = {}) {
    touch(durability);
    return state_;
  }

 private:
  std::string encode_payload() const override { return encode(state_); }
  void reset_state() override { state_ = schema_.initial(); }
  CodecResult<void> decode_payload(const Snapshot& snapshot) override {
    if (snapshot.schema_version == schema_.version) {
      auto decoded = decode<S>(snapshot.payload);
      if (!decoded) return unexpected(decoded.error());
      state_ = std::move(decoded.value());
      return {};
    }
    if (!schema_.migrate)
      return unexpected(CodecError{CodecErrc::type_mismatch,
                                   "schema version " + std::to_string(snapshot.schema_version) +
                                       " is older than " + std::to_string(schema_.version) +
                                       " and the actor has no migration hook"});
    try {
      std::size_t used = 0;
      auto handle = msgpack::unpack(snapshot.payload.data(), snapshot.payload.size(), used, nullptr,
                                    nullptr, detail::unpack_limit_for(snapshot.payload.size()));
      state_ = schema_.migrate(snapshot.schema_version, handle.get());
      return {};
    } catch (const std::exception& e) {
      return unexpected(detail::type_mismatch(
          "the migration from schema " + std::to_string(snapshot.schema_version), e));
    }
  }

  StateSchema<S> schema_;
  S state_;
};

}  // namespace troupe
