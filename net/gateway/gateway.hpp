#pragma once
// The gateway: ws://host:port/<route>/<name> reaches the session of that
// name (session.hpp), started on demand under its route's dynamic
// supervisor and registered as "<route>/<name>" (e.g. "rooms/lobby").
//
//   troupe::Gateway gateway(rt, {.server = {.port = 8080}});
//   gateway.route("/rooms", [] { return std::make_unique<Room>(); });
//   gateway.start();
//
// One process per session name, none per connection: a frame goes from
// the loop thread that owns its connection straight into its session's
// mailbox (docs/sessions.md, "Shape"). When a session crashes, the gateway
// starts it again and hands its connections over (frames sent meanwhile
// stay queued, up to max_pending_frames); the sockets stay open, except the
// one whose frame the session was handling when it crashed, which is closed
// with 1011 (see RouteOptions).
//
// Faults stay with their name (docs/supervisors.md): sessions are temporary
// children of their route's supervisor, so no crash of theirs counts against
// its restart intensity. A name whose session keeps crashing is restarted
// with backoff, then refused for a while (CrashPolicy): 503 before the
// upgrade, 1013 to its open connections; every other name is untouched.
// Names whose keys the persistence's store cannot hold (state, alarm, use
// record) get 400 before the upgrade.
//
// Threads: construct, route, start and stop from one thread outside the
// runtime's schedulers (e.g. main); send/close on connections from anywhere.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "net/gateway/detail/session_loop.hpp"
#include "net/gateway/placement.hpp"
#include "net/gateway/session.hpp"
#include "net/ws/handler.hpp"
#include "net/ws/http.hpp"
#include "net/ws/options.hpp"
#include "persist/awaitable_store.hpp"
#include "persist/persistence.hpp"
#include "runtime/backoff.hpp"
#include "runtime/export.hpp"
#include "runtime/runtime.hpp"
#include "supervisors/spec.hpp"

namespace troupe {

namespace detail {
class Retention;
struct SocketlessGateway;  // troupe::testing's SessionHarness (testing/session_harness.cpp)
}  // namespace detail

// How a route makes and runs its sessions, whatever their type (route()).
struct TROUPE_EXPORT SessionFactory {
  std::function<std::unique_ptr<SessionBase>()> make;
  detail::ServeSession serve = nullptr;
};

// How a route contains a session that keeps failing (one record per name,
// kept while it matters; see net/gateway/detail/session_health.hpp).
struct TROUPE_EXPORT CrashPolicy {
  // A crash after the session ran backoff.reset_after restarts it at once;
  // the n-th quick crash in a row waits backoff_delay(n - 2) first.
  Backoff backoff{.base = std::chrono::milliseconds(100),
                  .cap = std::chrono::seconds(5),
                  .jitter = 0.2,
                  .reset_after = std::chrono::seconds(10)};
  // This many quick crashes in a row refuse the name for refuse_for
  // (doubling per refusal in a row, at most refuse_max): upgrades get 503,
  // its open connections are closed with 1013 (try again later).
  int max_crashes = 5;
  Duration refuse_for = std::chrono::seconds(2);
  Duration refuse_max = std::chrono::seconds(10);
};

struct TROUPE_EXPORT RouteOptions {
  // With no connection and no message for this long, the session stops
  // (on_stop first); the next connection starts it again.
  Duration idle_timeout = std::chrono::seconds(30);
  // On a crash, close the connections with 1012 instead of handing them to
  // the restarted session.
  bool close_on_crash = false;
  // Frames a connection may queue while its session restarts or stays
  // behind; more closes it with 1008. At half of it the gateway stops
  // reading the connection's socket (the client waits in TCP), and reads it
  // again once an eighth or less wait: a slow session, here or on another
  // node of a cluster, costs a bounded queue.
  std::uint32_t max_pending_frames = 1024;
  // How long a connection waits for its session to be found or started.
  Duration restart_wait = std::chrono::seconds(5);
  // A connection whose frame the session was handling when it crashed is
  // closed with 1011, so that its client hears of it and may retry (the
  // frame may be what crashed it, so it is never handed again). True hands
  // it over like the others; the new incarnation's on_connect then gets the
  // frame as ConnectInfo::interrupted, to answer it.
  bool hand_over_interrupted = false;
  CrashPolicy crash;
  // Runs before the upgrade: reject unauthenticated clients (401/403).
  std::function<Admission(const HttpRequest&)> authorize;
  ws::RouteLimits limits;
  // Zero: the route's sessions are spread over the runtime's own schedulers.
  // N: they run on N schedulers of their own (Runtime::add_schedulers, made
  // when the route is added), for sessions known to compute a lot: they then
  // compete only with each other. Ignored on an embedded runtime.
  unsigned schedulers = 0;
  // The route's dynamic supervisor. Its sessions are temporary children
  // (restarted by the gateway, per CrashPolicy), so its intensity does not
  // count their crashes; max_children bounds the live sessions.
  DynamicSupervisorSpec supervisor{.intensity = 100, .period = std::chrono::seconds(5)};
};

struct TROUPE_EXPORT GatewayOptions {
  ws::Options server;
  // The sockets' loops: this many schedulers of the gateway's own
  // (Runtime::add_schedulers), which run libwebsockets and the gateway's
  // bookkeeping but no session, so a session that computes never delays
  // reading, writing or answering pings of any connection (docs/runtime.md,
  // "A process that computes"). Zero: the connections share the loops of the
  // runtime's own schedulers with the sessions (fewer threads and thread
  // hops; a session that computes then stalls the sockets of its loop).
  // An embedded runtime has one loop, which serves everything.
  unsigned io_schedulers = 1;
  // The sessions' persistence (persist/persistence.hpp): where
  // PersistentSession states live (named after the session's registry name,
  // "rooms/lobby"), and where the sessions' alarms are kept (one key per
  // session with an alarm: alarm_prefix + "<route>/<name>", e.g.
  // "alarms/rooms/lobby", its value the time in milliseconds since the
  // epoch; at start() the gateway reads them back and wakes each session when
  // its alarm comes due). /metrics reports its snapshot writes, failures and
  // write time, and the age of the oldest change not yet written. An upgrade
  // to a name whose keys the store cannot hold gets 400. Null: sessions
  // cannot persist state and alarms are kept in memory only.
  Persistence* persistence = nullptr;
  std::string alarm_prefix = "alarms/";
  // Retention (docs/persist.md, "Retention"). Zero, the default, keeps the
  // state of every name forever. Otherwise the state of a name that has
  // been unused this long (no incarnation of its session started or ended
  // since, none running, no alarm pending) is erased: the keys in `persistence`
  // of the state named after it ("rooms/lobby") and its use record. Last
  // uses are kept in the persistence's store (without one, retention does
  // nothing) under use_prefix + "<route>/<name>", written
  // when an incarnation starts and ends; state that predates its record
  // gets one at the first sweep, so it is kept a full period. A start that
  // comes while its name is being erased waits for the erase, then starts
  // afresh. Keep it far above the stores' operation timeouts (a write that
  // lands that late is not fenced off).
  Duration retention{};
  // How often the sweeper looks for names past retention. Zero: retention
  // / 4, within [1 s, 1 h]. The census behind /metrics' troupe_stored_keys
  // and troupe_stored_bytes runs at every sweep and at least every 60 s
  // (also with retention off); it reads every key under the persistence's
  // key_prefix (PersistenceOptions).
  Duration retention_sweep{};
  std::string use_prefix = "used/";
  // The gateway's root supervisor gave up (its routes' supervisors failed
  // past its intensity): nothing can serve any more. Called once, on a
  // scheduler thread. Unset: the process reports it on stderr and exits
  // with status 70 (EX_SOFTWARE), so that an orchestrator restarts it, as
  // an Erlang node stops when a permanent application fails.
  std::function<void(const ExitReason&)> on_root_failure;
  // The cluster this gateway is a node of (cluster/node.hpp makes one;
  // docs/cluster.md): where each session name lives, and the links to the
  // other nodes. Null: every session lives here.
  SessionPlacement* placement = nullptr;
};

class TROUPE_EXPORT Gateway {
 public:
  Gateway(Runtime& rt, GatewayOptions options = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Before start(): serve `prefix` ("/rooms") with sessions from `make`.
  // `make` returns a std::unique_ptr<S> for a session type S (session.hpp);
  // it runs on the session's scheduler, once per incarnation.
  template <class F>
  void route(std::string prefix, F make, RouteOptions options = {}) {
    using S = typename std::invoke_result_t<F&>::element_type;
    static_assert(std::is_base_of_v<SessionBase, S>, "a session derives from troupe::Session<S>");
    add_route(std::move(prefix),
              SessionFactory{[make = std::move(make)]() mutable -> std::unique_ptr<SessionBase> {
                               return make();
                             },
                             &detail::serve_session<S>},
              std::move(options));
  }
  // The same for a default-constructible S.
  template <class S>
  void route(std::string prefix, RouteOptions options = {}) {
    route(
        std::move(prefix), [] { return std::make_unique<S>(); }, std::move(options));
  }
  void add_route(std::string prefix, SessionFactory sessions, RouteOptions options);
  // Before start(): plain HTTP GET handlers. /metrics exists, and /healthz:
  // 200 "ok" while every route can serve, else 503 naming what cannot (a
  // route's supervisor or alarm keeper down, the root given up).
  void add_http_handler(std::string path, HttpHandler handler);

  // Starts the routes' supervisors and binds the port.
  std::error_code start();
  std::uint16_t port() const;
  // Stops accepting, closes every connection with 1001, then stops the
  // sessions (each runs on_stop). Idempotent.
  void stop();

  // Instead of start() and stop(): the gateway as a child of the
  // application's supervisor (see examples/server/main.cpp). Its process
  // starts the routes' supervisors (as its own linked child) and binds the
  // port; the start fails if either fails. When its supervisor stops it, it
  // does what stop() does: stops accepting, closes every connection with
  // 1001, then stops the sessions (each runs on_stop), and ends. If the
  // routes' supervisor gives up, the process ends with its reason (the
  // application's supervisor decides; on_root_failure is not called). Killed
  // or crashed, it is started again like any child: the new incarnation
  // first stops what the old one left running, then serves on a fresh
  // server. Place it after the store (persist/store_connection.hpp) among
  // the children, so that the store closes after the sessions' last
  // writes. Routes and handlers are added before the tree starts; the
  // gateway outlives the tree.
  ChildSpec child_spec(std::string id = "gateway");

  // The transport now; a gateway child that was restarted serves on a new one.
  ws::Server& server();
  Runtime& runtime() const { return rt_; }
  Persistence* persistence() const { return options_.persistence; }
  SessionPlacement* placement() const { return options_.placement; }
  // The schedulers whose loops serve the sockets (GatewayOptions::io_schedulers).
  SchedulerGroup io_schedulers() const { return io_; }

  struct Route;  // internal: one per route

  // For a cluster's node (cluster/node.cpp), on the thread of the gateway's
  // first loop: a connection whose socket is on another node opens, sends
  // frames, closes. `conn` has remote_connection_bit set and loop 0; its
  // session's frames and close go to `sink`. open_remote yields the route
  // to pass to the others, or an error (no route serves request.route, or
  // the route refuses the name, e.g. 503 for one refused after crashes)
  // and then opened nothing.
  Result<Route*, std::string> open_remote(ConnectionId conn, const HttpRequest& request,
                                          bool resumed, std::optional<std::string> interrupted,
                                          std::shared_ptr<detail::ConnectionSink> sink);
  // Finds or starts the session `name` ("rooms/lobby") here, as a
  // connection would (in a cluster: claims it first; fails if another node
  // owns it). From a process.
  Task<Registry::Lookup> find_session(Process& self, const std::string& name);
  void remote_message(Route& route, ConnectionId conn, std::string_view data, MessageKind kind);
  void remote_close(Route& route, ConnectionId conn, std::uint16_t code, std::string_view reason);

 private:
  // Starts the routes' supervisors but no server, its connections a
  // ConnectionSink's: for SessionHarness, which drives the routes itself.
  friend struct detail::SocketlessGateway;
  std::string metrics_text() const;
  HttpResponse health() const;
  // The pieces start()/stop() and child_spec() are made of.
  SupervisorSpec supervisor_spec();
  std::unique_ptr<ws::Server> make_server();
  std::error_code open_server();  // blocks until bound
  void close_server();            // blocks until every connection closed
  Proc serve_as_child(Process& self, InitAck ack);
  Task<> wind_down(Process& self);

  Runtime& rt_;
  GatewayOptions options_;
  SchedulerGroup io_;  // the schedulers whose loops serve the sockets
  std::unique_ptr<ws::Server> server_;
  std::unique_ptr<detail::Retention> retention_;  // its sweeper, the last uses of names
  std::vector<std::shared_ptr<Route>> routes_;
  std::vector<std::pair<std::string, HttpHandler>> http_handlers_;  // for a new server_
  std::atomic<bool> serving_{false};
  Pid root_;
  // Shared with the process that watches the root, which may outlive this.
  struct RootState {
    std::atomic<bool> down{false};
    std::atomic<bool> stopping{false};
  };
  std::shared_ptr<RootState> root_state_ = std::make_shared<RootState>();
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace troupe
