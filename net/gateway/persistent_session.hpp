#pragma once
// PersistentSession<S, State>: a session (session.hpp) whose State outlives
// its process. The engine does the plumbing; the session writes its
// protocol:
//
//   struct CounterState { std::int64_t value = 0; MSGPACK_DEFINE(value); };
//   struct Counter : troupe::PersistentSession<Counter, CounterState> {
//     troupe::Task<> on_message(troupe::Connection& c, std::string_view,
//                               troupe::MessageKind) {
//       mutate().value += 1;                          // a change, written per durability
//       if (auto saved = co_await commit(); !saved)   // durable now, or why not
//         co_return (void)c.send("not saved: " + to_string(saved.error()));
//       broadcast(std::to_string(state().value));
//     }
//   };
//   troupe::Gateway gateway(rt, {.persistence = &persistence});
//   gateway.route<Counter>("/counter");
//
// What the engine does:
//   start     the state is loaded before on_start, from the gateway's
//             persistence (GatewayOptions::persistence), under the session's
//             registry name ("counter/abc"). A snapshot that does not
//             decode, or a store that does not answer, crashes the start
//             (restarted with backoff, RouteOptions::crash).
//   running   the state's write completions and timers are handled by the
//             loop; the session only sees its own messages.
//   stop      on every orderly stop (idle, gateway shutdown) the state is
//             flushed after on_stop.
//   crash     the in-memory state is not written (unless
//             PersistentStateOptions::write_on_crash), and a poison strike is
//             recorded against the snapshot this incarnation loaded: a
//             snapshot that crashes its session PersistenceOptions::
//             poison_strikes times without a newer commit is quarantined and
//             the next start loads the generation before it
//             (docs/persist.md, "Poison snapshots").
//
// The whole state API (durability, stats, flush with a deadline) is
// PersistentState<State> (persist/persistent_state.hpp), reachable as
// persistent_state(). Without persistence configured, the session's start
// fails with a reason that says so.

#include <optional>
#include <utility>

#include "net/gateway/session.hpp"
#include "persist/persistent_state.hpp"

namespace troupe {

template <class S, class State>
class PersistentSession : public Session<S> {
 public:
  explicit PersistentSession(StateSchema<State> schema = {}, PersistentStateOptions options = {})
      : schema_(std::move(schema)), options_(options) {}

  // The state, to read (loaded before on_start).
  const State& state() const { return state_->get(); }
  // The state, to change now: marks it changed (written per `durability`,
  // or PersistentStateOptions::durability). Call it before each change.
  State& mutate(std::optional<Durability> durability = {}) { return state_->mutate(durability); }
  // Writes every change so far and waits until it is stored: its revision,
  // or the error (the store down, or the snapshot over
  // PersistenceOptions::max_snapshot_bytes); the change then stays in
  // memory, unwritten, and the session decides (undo it, tell the client).
  Task<StoreResult<Revision>> commit() { return state_->commit(this->self()); }
  Task<StoreResult<Revision>> commit(Duration timeout) {
    return state_->commit(this->self(), timeout);
  }
  // commit(), exiting with a reason naming the session and the error if it
  // fails: the session crashes and restarts from the last stored state.
  Task<Revision> commit_or_exit() { return state_->commit_or_exit(this->self()); }
  PersistentState<State>& persistent_state() { return *state_; }
  const PersistentState<State>& persistent_state() const { return *state_; }

  // For the engine (runtime/behaviour.hpp): the state's own messages.
  bool consume_internal(AnyMessage& m) { return state_ && state_->handle(m); }

 protected:
  Task<> load_state(Process& self, Persistence* persistence) override {
    if (!persistence)
      self.exit(
          ExitReason::error("persistent session " + this->full_name() +
                            ": the gateway has no persistence (GatewayOptions::persistence)"));
    // In a cluster, every write carries the fence its name was claimed with.
    PersistentStateOptions options = options_;
    if (this->fence()) options.fence = this->fence();
    state_.emplace(*persistence, this->full_name(), schema_, options);
    co_await state_->load(self);
  }
  Task<> end_state(Process& self, const ExitReason& reason) override {
    if (state_) (void)co_await state_->flush(self, reason);
  }

 private:
  StateSchema<State> schema_;
  PersistentStateOptions options_;
  std::optional<PersistentState<State>>
      state_;  // never moves once loaded: the session is on the heap
};

}  // namespace troupe
