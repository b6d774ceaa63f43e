#pragma once
// Session actors: one process per named session (a room, a document, a
// game) that browser clients reach through the Gateway (gateway.hpp).
//
//   struct Room : troupe::Session {
//     troupe::Task<> on_message(troupe::Connection& c, std::string_view text,
//                               troupe::MessageKind) override {
//       broadcast(text);  // to every connection of this room
//       co_return;
//     }
//   };
//   gateway.route("/rooms", [] { return std::make_unique<Room>(); });
//
// Every callback runs on the session's own process, one at a time, and may
// co_await (calls, offload, ...). An exception escaping a callback crashes
// the session: the gateway starts it again under the same name (at once
// after a healthy run, with backoff when it crashes again soon, and not at
// all for a while when it keeps crashing: RouteOptions::crash), and the
// connections that were open are handed to the new incarnation
// (on_connect with resumed = true); frames sent meanwhile wait, in order.
// The connection whose frame it was handling is closed with 1011 instead
// (RouteOptions::hand_over_interrupted).
//
// Alarms: a session has at most one alarm. set_alarm(at) keeps it in the
// gateway's store (GatewayOptions::store), so it outlives the session's
// process: when it comes due, on_alarm runs on the running session, or on
// one the gateway starts for it, with or without connections, also after an
// idle stop or a restart of the server. on_alarm runs at least once per
// alarm: if it throws, the session crashes and its restarted incarnation
// runs it again. Without a store, alarms live as long as the gateway.

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
#include "runtime/process.hpp"
#include "runtime/receive.hpp"

namespace troupe {

namespace detail {
class AlarmBook;
}

struct ConnectInfo {
  HttpRequest request;   // path, name, query, headers, cookies of the upgrade
  bool resumed = false;  // handed over after the session restarted
  // Resumed with RouteOptions::hand_over_interrupted: the frame the crashed
  // incarnation was handling, not delivered again (it may be what crashed
  // it), so that this one can answer it (an error naming its request id).
  std::optional<std::string> interrupted;
};

class Session {
 public:
  virtual ~Session() = default;

  // After the session started (or restarted), before any connection.
  virtual Task<> on_start() { co_return; }
  virtual Task<> on_connect(Connection&, const ConnectInfo&) { co_return; }
  virtual Task<> on_message(Connection& c, std::string_view data, MessageKind kind) = 0;
  virtual Task<> on_close(Connection&, std::uint16_t /*code*/, std::string_view /*reason*/) {
    co_return;
  }
  // Any other message sent to the session's process (rt.send, call); the
  // message lives only during this call, so it is not a coroutine.
  virtual void on_info(AnyMessage&) {}
  // Before the session stops: idle, shut down, or restarted after a crash
  // it survived long enough to see (not after a kill).
  virtual Task<> on_stop() { co_return; }
  // The alarm came due (see "Alarms" above). It is cleared when this
  // returns, unless this call set a new one.
  virtual Task<> on_alarm() { co_return; }

  // --- for the callbacks ---
  Process& self() const { return *self_; }
  // The session's name within its route ("lobby" for /rooms/lobby).
  const std::string& name() const { return name_; }
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

 private:
  friend class SessionRunner;
  Process* self_ = nullptr;
  std::string name_;
  detail::AlarmBook* alarms_ = nullptr;
  std::optional<AlarmTime> alarm_;  // this session's entry in alarms_, read without its lock
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
};

}  // namespace troupe
