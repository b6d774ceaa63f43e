#pragma once
// Sessions: one process per named session (a room, a document, a game)
// that browser clients reach through the Gateway (gateway.hpp). A session
// is a behaviour on the same engine as Server<S> (runtime/behaviour.hpp):
// derive as `struct S : troupe::Session<S>` and write the callbacks you need.
//
//   struct Announce { std::string text; };
//   struct Room : troupe::Session<Room> {
//     using casts = troupe::types<Announce>;          // typed application messages
//     troupe::Task<> on_message(troupe::Connection& c, std::string_view text,
//                               troupe::MessageKind) {
//       broadcast(text);                               // to every connection of this room
//       co_return;
//     }
//     void handle_cast(const Announce& a) { broadcast(a.text); }
//   };
//   gateway.route("/rooms", [] { return std::make_unique<Room>(); });  // or route<Room>("/rooms")
//   troupe::cast(rt, "rooms/lobby", Announce{"hello"});               // from anywhere
//
// Callbacks (members of S; each may be a plain function or a coroutine
// returning Task<...>, which may co_await calls, offload, ...):
//   on_start()                      after the session started (or restarted),
//                                   its persistent state loaded, before any
//                                   connection
//   on_connect(Connection&, const ConnectInfo&)
//   on_message(Connection&, std::string_view data, MessageKind)   required
//   on_close(Connection&, std::uint16_t code, std::string_view reason)
//   on_alarm()                      the alarm came due (see "Alarms")
//   on_stop()                       before an orderly stop: idle, shutdown
//                                   (not after a crash or a kill)
//   handle_call / handle_cast / handle_info, for the types in `calls`,
//   `casts`, `infos`: as for Server<S> (runtime/server.hpp); a call's
//   return value is its reply. handle_unexpected(AnyMessage&): the rest.
// All run on the session's own process, one at a time.
//
// Crashes: an exception escaping a callback crashes the session: the
// gateway starts it again under the same name (at once after a healthy run,
// with backoff when it crashes again soon, and not at all for a while when
// it keeps crashing: RouteOptions::crash), and the connections that were
// open are handed to the new incarnation (on_connect with resumed = true);
// frames sent meanwhile wait, in order. The connection whose frame it was
// handling is closed with 1011 instead (RouteOptions::hand_over_interrupted).
//
// Alarms: a session has at most one alarm. set_alarm(at) keeps it in the
// gateway's persistence (GatewayOptions::persistence), so it outlives the
// session's process: when it comes due, on_alarm runs on the running
// session, or on one the gateway starts for it, with or without
// connections, also after an idle stop or a restart of the server. on_alarm
// runs at least once per alarm: if it throws, the session crashes and its
// restarted incarnation runs it again. Without persistence, alarms live as
// long as the gateway.
//
// State that outlives the process: PersistentSession<S, State>
// (persistent_session.hpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/gateway/connection.hpp"
#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/process.hpp"
#include "runtime/receive.hpp"

namespace troupe {

namespace detail {
class AlarmBook;
}

struct TROUPE_EXPORT ConnectInfo {
  HttpRequest request;   // path, name, query, headers, cookies of the upgrade
  bool resumed = false;  // handed over after the session restarted
  // Resumed with RouteOptions::hand_over_interrupted: the frame the crashed
  // incarnation was handling, not delivered again (it may be what crashed
  // it), so that this one can answer it (an error naming its request id).
  std::optional<std::string> interrupted;
};

class Persistence;
namespace detail {
struct SessionAccess;
}

// The part of every session that does not depend on its type: its name,
// its connections, its alarm. Derive from Session<S>, not from this.
class TROUPE_EXPORT SessionBase {
 public:
  virtual ~SessionBase() = default;

  Process& self() const { return *self_; }
  // The session's name within its route ("lobby" for /rooms/lobby).
  const std::string& name() const { return name_; }
  // Its registry name ("rooms/lobby"): also the name of its persistent state.
  const std::string& full_name() const { return full_name_; }
  // Sends to every connection, except `except` if given.
  void broadcast(std::string_view data, std::optional<ConnectionId> except = {},
                 MessageKind kind = MessageKind::text) const;
  // The connections carrying `tag` (all of them for an empty tag).
  std::vector<Connection*> connections(std::string_view tag = {});
  std::size_t connection_count() const { return connections_.size(); }

  using AlarmTime = std::chrono::system_clock::time_point;
  // Sets the session's alarm to `at` (replacing any earlier one; a time in
  // the past fires at once) and waits until the store has it. On a store
  // error the alarm still fires while this gateway runs, but would not
  // survive a restart of the server.
  Task<StoreResult<void>> set_alarm(AlarmTime at);
  // Clears the alarm, if any, in memory and in the store.
  Task<StoreResult<void>> cancel_alarm();
  std::optional<AlarmTime> alarm() const;

 protected:
  SessionBase() = default;

  // For PersistentSession: runs before on_start, and when the session ends
  // (`reason` normal for an orderly stop, else the crash).
  virtual Task<> load_state(Process&, Persistence*) { co_return; }
  virtual Task<> end_state(Process&, const ExitReason&) { co_return; }
  // In a cluster (docs/cluster.md): the fence this incarnation claimed its
  // name with, which every write of its state and alarm carries.
  const std::optional<StoreFence>& fence() const { return fence_; }

 private:
  friend struct detail::SessionAccess;
  Process* self_ = nullptr;
  std::string name_;
  std::string full_name_;
  detail::AlarmBook* alarms_ = nullptr;
  std::optional<AlarmTime> alarm_;  // this session's entry in alarms_, read without its lock
  std::optional<StoreFence> fence_;
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
};

// The base of a session S (see the top of this file). The defaults below
// are hidden by the callbacks S writes.
template <class S>
class Session : public SessionBase {
 public:
  void on_start() {}
  void on_connect(Connection&, const ConnectInfo&) {}
  void on_close(Connection&, std::uint16_t /*code*/, std::string_view /*reason*/) {}
  void on_alarm() {}
  void on_stop() {}
};

}  // namespace troupe
