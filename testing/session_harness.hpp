#pragma once
// SessionHarness: a session actor (net/gateway/session.hpp,
// persistent_session.hpp) under test without a socket, on a TestRuntime.
//
//   TestRuntime t;
//   MemoryStore store(t.loop());
//   SessionHarness<Room> h(t, "rooms/lobby", {.route = {.idle_timeout = 30s}, .store = &store});
//   auto& ada = h.connect({.query = {{"name", "ada"}}});
//   ada.send(R"({"type":"say","text":"hi"})");      // a frame from the client
//   ada.expect_frame("\"text\":\"hi\"");             // steps until the session sends one
//   ada.disconnect();                                // the client goes away, here
//   t.advance(30s);                                  // nobody left: the session stops
//   CHECK_FALSE(h.alive());
//
// The session runs through the gateway's own code: a Gateway with the
// route, its supervisor, alarm keeper and relay (which finds or starts the
// session, hands it its connections and their frames, and after a crash
// restarts it, as CrashPolicy says, and hands the open connections to the
// new incarnation), and the session's loop (idle stop, alarms, persistent
// state). Only the sockets are missing: the harness plays the gateway's
// ws::Server. The clients' opens, frames and closes reach the route as the
// server's loop would deliver them, and what the session sends or closes
// is recorded per client instead of written to a socket.
//
// Timing: connect, send and disconnect act at once on the gateway's side
// (its loop is the test's thread); the session hears of them when the
// runtime runs (t.run(), t.advance(), an expectation here or in the kit).
// The expect_* members step the runtime until what they wait for comes,
// without moving time: what comes only after a delay (an alarm, a restart
// backoff) needs t.advance() first. A failure goes through
// TestRuntime::fail (the seed is in its message).
//
// A connection the session closes: the client's closed() says with which
// code; the route hears of the close after a loop turn, as with a real
// client answering the close handshake. Destroying the harness closes the
// open clients with 1001 and stops the sessions in order (on_stop, state
// flushed), as Gateway::stop does: make the store before the harness.
// One harness per TestRuntime at a time (its gateway registers its
// supervisors and helpers by name); harnesses one after another on one
// store play a restart of the server. Test thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "net/gateway/gateway.hpp"
#include "persist/persistence.hpp"
#include "persist/store.hpp"
#include "testing/test_runtime.hpp"

namespace troupe::testing {

// A frame the session sent to a client.
struct Frame {
  std::string data;
  MessageKind kind = MessageKind::text;
};

// How a connection was closed by the session (or the gateway).
struct CloseInfo {
  std::uint16_t code = 0;
  std::string reason;
};

// What a client's upgrade request carries (ConnectInfo::request).
struct ClientOptions {
  std::string name;  // the session's name in the route; empty: the harness's
  KeyValues query;   // {{"name", "ada"}} is "?name=ada"
  KeyValues headers;
  KeyValues cookies;
  std::string peer = "127.0.0.1";
};

struct SessionHarnessOptions {
  // The route's options, as Gateway::route takes them: idle_timeout,
  // crash policy, authorize, hand_over_interrupted, close_on_crash, ...
  // (ws::RouteLimits and schedulers concern the sockets and threads the
  // harness does not have.)
  RouteOptions route;
  // The store of the sessions' persistent state and alarms (a MemoryStore
  // on t.loop(), or a FaultyStore): the harness makes the Persistence over
  // it with `persistence_options`. Null: no persistence, as a gateway
  // without GatewayOptions::persistence.
  Store* store = nullptr;
  PersistenceOptions persistence_options;
  // Or a Persistence of the test's own, on this runtime (wins over store).
  Persistence* persistence = nullptr;
  // GatewayOptions::retention and retention_sweep: erase the state of names
  // unused this long (docs/persist.md, "Retention"), on virtual time.
  Duration retention{};
  Duration retention_sweep{};
};

class SessionHarnessBase;

// One client of the session. Lives as long as its harness.
class Client {
 public:
  ConnectionId id() const { return id_; }
  // The registry name of its session ("rooms/lobby").
  const std::string& session() const { return session_; }

  // The client sends a frame. Fails if it is not open.
  void send(std::string_view data, MessageKind kind = MessageKind::text);
  // The client goes away at this point (its close frame, with `code`): the
  // session's on_close hears it after the frames it sent before. Fails if
  // it is not open.
  void disconnect(std::uint16_t code = close_code::going_away, std::string_view reason = {});

  // Every frame the session sent it, oldest first.
  const std::vector<Frame>& frames() const { return frames_; }
  // Frames not yet read by next_frame / expect_frame.
  std::size_t unread() const { return frames_.size() - read_; }
  // The next unread frame, stepping the runtime until one comes; fails if
  // the runtime runs out of work first.
  std::string next_frame();
  // next_frame(), which must contain `text`.
  std::string expect_frame(std::string_view text);
  // next_frame(), which must satisfy `predicate` (`what` names it).
  template <class P>
  requires std::is_invocable_r_v<bool, P&, const std::string&> std::string expect_frame(
      P predicate, std::string_view what = "the predicate") {
    std::string frame = next_frame();
    if (!predicate(frame)) fail_frame("a frame satisfying " + std::string(what), frame);
    return frame;
  }
  // Runs until nothing can run; fails if an unread frame is there.
  void expect_no_frame();

  // Open: admitted, and closed by neither side.
  bool open() const { return state_ == State::open; }
  // Closed by the session or the gateway: with which code and reason.
  const std::optional<CloseInfo>& closed() const { return closed_; }
  // Steps until the session (or the gateway) closes it; fails if it does not.
  CloseInfo expect_closed();
  // Went away by disconnect().
  bool disconnected() const { return state_ == State::disconnected; }
  // Refused before the upgrade (RouteOptions::authorize, a name refused
  // for crashing, a name the store cannot hold): the HTTP status and body.
  std::optional<Admission> refused() const { return refused_; }

 private:
  friend class SessionHarnessBase;
  enum class State { open, closed, disconnected, refused };
  Client(SessionHarnessBase& h, ConnectionId id, std::string session)
      : h_(&h), id_(id), session_(std::move(session)) {}
  [[noreturn]] void fail_frame(const std::string& want, const std::string& got) const;
  void require_open(const char* what) const;

  SessionHarnessBase* h_;
  ConnectionId id_;
  std::string session_;
  State state_ = State::open;
  std::vector<Frame> frames_;
  std::size_t read_ = 0;
  std::optional<CloseInfo> closed_;
  std::optional<Admission> refused_;
};

// The part of SessionHarness<S> that does not depend on S.
class SessionHarnessBase {
 public:
  ~SessionHarnessBase();
  SessionHarnessBase(const SessionHarnessBase&) = delete;
  SessionHarnessBase& operator=(const SessionHarnessBase&) = delete;

  TestRuntime& runtime() { return t_; }
  // The session's registry name ("rooms/lobby"), its route ("/rooms").
  const std::string& session() const { return full_name_; }
  const std::string& route() const { return prefix_; }

  // A client connects (to the harness's session, or options.name in the
  // same route). The route's admission runs first (RouteOptions::authorize,
  // crash refusal): a refused client is never open (Client::refused()).
  // The session is found or started when the runtime runs.
  Client& connect(ClientOptions options = {});
  // Every client so far, in order of connect.
  std::vector<Client*> clients();

  // The running incarnation of the session (or of `name` in the route),
  // empty if none; alive() says whether there is one.
  Pid pid(std::string_view name = {}) const;
  bool alive(std::string_view name = {}) const { return static_cast<bool>(pid(name)); }
  // Steps until the session (or `name`) runs; fails if it does not start.
  Pid expect_alive(std::string_view name = {});

  // The session crashes here: its process gets an exit signal with an
  // error reason (as when a process linked to it crashes), which it takes
  // after the messages already in its mailbox. Steps until that
  // incarnation has ended (the gateway's crash path: crash record, state
  // not written, a due alarm kept), then returns: running on lets the
  // gateway restart it (at once after a healthy run, after a backoff when
  // it crashes again soon: t.advance) and hand its open connections over
  // (on_connect with resumed = true). Fails if it is not running.
  void crash(std::string reason = "crash injected by SessionHarness", std::string_view name = {});

  // Steps the runtime until `done()` is true (checked before each step), to
  // act at a chosen point: `what` names it in the failure if the runtime
  // runs out of work first. Time does not move.
  void run_until(const std::function<bool()>& done, std::string_view what = "the condition");

  // What the persistence's store holds under `prefix` (raw keys, e.g.
  // "alarms/rooms/" for the route's alarms), and the value of `key`:
  // read on the store's loop, stepping the runtime until it answers. Fails
  // without a store, or if it answers with an error.
  std::vector<std::string> stored_keys(std::string_view prefix);
  std::optional<std::string> stored_value(std::string_view key);

  // The gateway behind the route (for its persistence and metrics).
  Gateway& gateway() { return *gateway_; }
  Persistence* persistence() const { return persistence_; }

 protected:
  SessionHarnessBase(TestRuntime& t, std::string session, SessionFactory factory,
                     SessionHarnessOptions options);

 private:
  friend class Client;
  class Sink;
  Client* client_of(ConnectionId id);
  std::string full_name_of(std::string_view name) const;

  TestRuntime& t_;
  std::string prefix_;     // "/rooms"
  std::string name_;       // "lobby"
  std::string full_name_;  // "rooms/lobby"
  std::unique_ptr<AwaitableStore> client_;
  std::unique_ptr<Persistence> own_persistence_;
  Persistence* persistence_ = nullptr;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Gateway> gateway_;
  Gateway::Route* route_ = nullptr;
  std::vector<std::unique_ptr<Client>> clients_;
  std::uint64_t next_connection_ = 1;
  std::shared_ptr<bool> alive_token_ = std::make_shared<bool>(true);  // for posted closes
};

// A harness for sessions of type S at `session` ("<route>/<name>", the route
// one path segment: "chat/lobby"), made by `make` (default: S's default
// constructor), once per incarnation, as Gateway::route does.
template <class S>
class SessionHarness : public SessionHarnessBase {
  static_assert(std::is_base_of_v<SessionBase, S>, "a session derives from troupe::Session<S>");

 public:
  using Make = std::function<std::unique_ptr<S>()>;

  SessionHarness(TestRuntime& t, std::string session,
                 SessionHarnessOptions options = {}) requires std::is_default_constructible_v<S>
      : SessionHarness(
            t, std::move(session), [] { return std::make_unique<S>(); }, std::move(options)) {}

  SessionHarness(TestRuntime& t, std::string session, Make make, SessionHarnessOptions options = {})
      : SessionHarnessBase(
            t, std::move(session),
            SessionFactory{
                [make = std::move(make)]() -> std::unique_ptr<SessionBase> { return make(); },
                &detail::serve_session<S>},
            std::move(options)) {}
};

}  // namespace troupe::testing
