#pragma once
// PersistentServer<S, State>: a Server (runtime/server.hpp) whose state lives
// in a PersistentState<State> (persistent_state.hpp): loaded in init, before the
// first message; its write completions and timers handled for it; flushed
// in terminate (supervisor shutdown, SIGINT/SIGTERM through the root, stop()).
//
//   struct Incr { using reply = long; };
//   struct Counter : troupe::PersistentServer<Counter, Count> {
//     using calls = troupe::types<Incr>;
//     Counter(troupe::Persistence& actors) : PersistentServer(actors, "counter") {}
//     troupe::Task<long> handle_call(const Incr&) {
//       ++state().mutate().n;
//       co_await state().commit_or_exit(process());   // durable before the reply
//       co_return state()->n;
//     }
//   };
//   // supervised: {.id = "counter", .start = troupe::server_child<Counter>(std::ref(actors))}
//
// The server traps exits, so that its supervisor's shutdown runs terminate
// (give it a shutdown timeout that covers the flush deadline). If S writes
// init or terminate itself, it must call the ones here
// (PersistentServer::init() first in its init, and so on); the state's own
// messages reach it without S's help. A crash (a
// callback that throws) runs terminate with the error: the dirty state is
// not written (see PersistentStateOptions::write_on_crash) and a poison strike is
// recorded against the snapshot the incarnation loaded.

#include <string>

#include "persist/persistent_state.hpp"
#include "runtime/server.hpp"

namespace troupe {

template <class S, class State>
class PersistentServer : public Server<S> {
 public:
  PersistentServer(Persistence& store, std::string actor, StateSchema<State> schema = {},
                   PersistentStateOptions options = {})
      : state_(store, std::move(actor), std::move(schema), options) {}

  Task<> init() {
    this->process().trap_exit(true);
    co_await state_.load(this->process());
  }
  Task<> terminate(const ExitReason& reason) { co_await state_.flush(this->process(), reason); }
  // For the engine (runtime/behaviour.hpp): the state's own messages, before
  // S's handle_unexpected.
  bool consume_internal(AnyMessage& message) { return state_.handle(message); }

 protected:
  PersistentState<State>& state() { return state_; }
  const PersistentState<State>& state() const { return state_; }

 private:
  PersistentState<State> state_;
};

}  // namespace troupe
