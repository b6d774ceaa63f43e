#pragma once
// The inside of a Gateway route: what its connections, its
// sessions and its alarm keeper share, and the messages between them.
//
//   loop thread (lws callbacks)          session's process (any scheduler)
//   Route::on_open/on_message/on_close ── SessionConnect/Frame/Close ──► SessionRunner
//        │ per loop: a Relay                                              (session_runner.cpp)
//        └ per session name on that loop: a watcher process that finds or
//          starts the session, monitors it, and hands the loop's connections
//          to its next incarnation when it crashes (connection_relay.cpp)
//
// A Relay is touched only on its loop's thread: by the loop's lws callbacks
// and by the watcher processes, pinned to the scheduler of the same loop
// (the gateway's server runs on the loops of its I/O schedulers,
// GatewayOptions::io_schedulers). Sessions run on their route's group.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/gateway/detail/alarm_book.hpp"
#include "net/gateway/detail/retention_sweeper.hpp"
#include "net/gateway/detail/session_health.hpp"
#include "net/gateway/detail/session_loop.hpp"
#include "net/gateway/gateway.hpp"

namespace troupe {

namespace detail {

struct SessionGroup;

// One connection as its loop's relay keeps it.
struct RelayedConnection {
  HttpRequest request;  // handed to every incarnation's on_connect
  // Its group, while it is a member; references into an unordered_map stay
  // valid, and the group outlives its members (closing ones left it).
  SessionGroup* group = nullptr;
  Progress progress = std::make_shared<FrameProgress>();
  bool resumed = false;                    // the next SessionConnect is a hand-over
  std::optional<std::string> interrupted;  // for the next SessionConnect
  bool closing = false;                    // being closed with its group: frames are ignored
  std::shared_ptr<ConnectionSink> remote;  // a remote connection's (placement.hpp)
  bool paused = false;                     // its socket is not read: its session is behind
  // Frames sent to the session (or waiting for it) that it may not have
  // handled yet: frames[first..]. A vector and an index rather than a
  // deque, which would allocate a block per connection up front.
  std::vector<SessionFrame> frames;
  std::size_t first = 0;
  std::uint64_t next_seq = 1;

  void drop_handled();
  std::size_t waiting() const { return frames.size() - first; }
  // Frames received that its session has not taken up, now.
  std::uint64_t untaken() const {
    return next_seq - 1 - progress->taken.load(std::memory_order_acquire);
  }
};

// The connections of one loop that talk to one session.
struct SessionGroup {
  std::vector<ConnectionId> members;
  // Connections that closed while their frames were with the session: if
  // it dies before taking them up, the relay counts them out (PendingFrames).
  struct Closed {
    Progress progress;
    std::uint64_t last_seq;
  };
  std::vector<Closed> closed_in_doubt;
  Pid session;  // invalid while the watcher finds (or re-finds) it
  Pid watcher;  // the process that finds and monitors it
};

struct Relay {
  std::unordered_map<ConnectionId, RelayedConnection> connections;
  std::unordered_map<std::string, SessionGroup> groups;  // by session registry name
  alignas(64) PendingFrames pending{0};                  // read by /metrics from any thread
  // Connections not read because their session is behind (backpressure),
  // and whether the process that resumes them runs.
  std::vector<ConnectionId> paused;
  bool resumer = false;
};

// Sent to a group's watcher when its last member left.
struct GroupEmptied {};

}  // namespace detail

struct Gateway::Route : ws::Handler {
  Gateway* gateway = nullptr;
  std::string prefix;      // "/rooms"
  std::string names;       // "rooms/": registry prefix of its sessions
  std::string supervisor;  // registry name of its dynamic supervisor
  SchedulerGroup group;    // where its sessions run (RouteOptions::schedulers)
  SchedulerGroup io;       // the gateway's loops: relay i is on scheduler io.first + i
  SessionFactory sessions;
  RouteOptions options;
  std::unique_ptr<detail::AlarmBook> alarms;
  std::string alarm_keeper;                            // registry name of its alarm keeper
  std::vector<std::unique_ptr<detail::Relay>> relays;  // one per loop
  detail::Retention* retention = nullptr;              // the gateway's
  // Null: connections are the server's. Set: they are a SessionHarness's
  // (testing/session_harness.hpp), and their frames and closes go there.
  detail::ConnectionSink* sink = nullptr;
  // Closes a connection of this route (the server's or the sink's).
  void close(ConnectionId conn, std::uint16_t code, std::string_view reason);

  // The crash record of its sessions, by registry name ("rooms/lobby").
  std::unique_ptr<detail::SessionHealth> health;

  // Processes outside the supervision tree that use this Route (session
  // watchers, alarm wake-ups): stop() waits until none is left, so that
  // none outlives it.
  std::mutex helpers_mutex;
  std::condition_variable helpers_cv;
  int helpers = 0;
  struct HelperScope {  // lives in such a process's coroutine frame
    explicit HelperScope(Route& k);
    ~HelperScope();
    Route& route;
  };
  bool wait_helpers_gone(Duration limit);

  // Refuses names the stores cannot hold and names that are refused for
  // crashing, then asks RouteOptions::authorize.
  Admission authorize(const HttpRequest& r) override;
  void on_open(ConnectionId conn, const HttpRequest& request) override;
  // on_open for a connection of the server (remote null) or, in a cluster,
  // one whose socket is on another node (its frames go to `remote`).
  // A remote connection may come `resumed` (handed over from an earlier
  // owner), with the frame that owner was handling when it was lost.
  void open(ConnectionId conn, const HttpRequest& request,
            std::shared_ptr<detail::ConnectionSink> remote, bool resumed,
            std::optional<std::string> interrupted);
  void on_message(ConnectionId conn, std::string_view data, MessageKind kind) override;
  void on_close(ConnectionId conn, std::uint16_t code, std::string_view reason) override;
  bool gateway_stopping() const;

  // The session registered as `name` ("rooms/lobby"), started if need be
  // (as CrashPolicy allows: a refused name fails with refused_reason).
  Task<Registry::Lookup> find_session(Process& self, const std::string& name);
  // What the connections of relay `loop` talk to for `name`: its session
  // (find_session), or in a cluster a proxy for it when another node owns
  // it. Remote connections are not proxied again: each is told to find the
  // owner itself (SessionPlacement::close_remote with code 0). Null when no
  // member is left.
  Task<Registry::Lookup> find_serving(Process& self, unsigned loop, const std::string& name);
  // Starts `name` again after its incarnation crashed with no connection to
  // do it (for a due alarm).
  void restart_later(const std::string& name);
  // Reads the connections of relay `loop` that were paused for backpressure
  // again as their sessions catch up (on_message pauses them).
  static Proc resume_readers(Process& self, Route* route, unsigned loop);
  detail::AlarmKeeperHooks alarm_hooks();
};

// The detail of the exit reason of a start refused by CrashPolicy.
inline constexpr std::string_view refused_reason = "session refused after repeated crashes";
// ... and of one the cluster cannot place now (its clients get 1013).
inline constexpr std::string_view unavailable_reason = "session unavailable";

// The body of a session's process (session_runner.cpp): waits `delay`
// first (its restart backoff), then serves; in a cluster with the `fence`
// its name was claimed with.
struct SessionRunner {
  static Proc run(Process& self, Gateway::Route* route, std::string name, Duration delay,
                  std::optional<StoreFence> fence);
};

}  // namespace troupe
