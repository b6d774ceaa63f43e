#pragma once
// The gateway: ws://host:port/<route>/<name> reaches the session actor of
// that name (session.hpp), started on demand under its route's dynamic
// supervisor and registered as "<route>/<name>" (e.g. "rooms/lobby").
//
//   troupe::Gateway gateway(rt, {.server = {.port = 8080}});
//   gateway.route("/rooms", [] { return std::make_unique<Room>(); });
//   gateway.start();
//
// Each client connection gets a small process of its own on the connection's
// scheduler: it finds or starts the session, forwards frames in order, and
// when the session crashes it waits for the supervisor to restart it and
// hands the connection over (frames sent meanwhile stay queued, up to
// max_pending_frames). The socket stays open throughout.
//
// Threads: construct, route, start and stop from one thread outside the
// runtime's schedulers (e.g. main); send/close on connections from anywhere.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "net/http.hpp"
#include "net/route.hpp"
#include "net/server_options.hpp"
#include "net/session.hpp"
#include "persist/actor_store.hpp"
#include "persist/store_client.hpp"
#include "runtime/runtime.hpp"
#include "supervisors/spec.hpp"

namespace troupe {

using SessionFactory = std::function<std::unique_ptr<Session>()>;

struct KindOptions {
  // With no connection and no message for this long, the session stops
  // (on_stop first); the next connection starts it again.
  Duration idle_timeout = std::chrono::seconds(30);
  // On a crash, close the connections with 1012 instead of handing them to
  // the restarted session.
  bool close_on_crash = false;
  // Frames a connection may queue while its session restarts; more closes
  // it with 1008.
  std::uint32_t max_pending_frames = 1024;
  // How long a connection waits for its crashed session to be restarted.
  Duration restart_wait = std::chrono::seconds(5);
  // Runs before the upgrade: reject unauthenticated clients (401/403).
  std::function<Admission(const HttpRequest&)> authorize;
  RouteOptions route;
  // The route's dynamic supervisor: restart intensity for its sessions.
  DynamicSupervisorSpec supervisor{.intensity = 100, .period = std::chrono::seconds(5)};
};

struct GatewayOptions {
  ServerOptions server;
  // Where the sessions' alarms are kept (Session::set_alarm), one key per
  // session with an alarm: alarm_prefix + "<route>/<name>" (e.g.
  // "alarms/rooms/lobby"), its value the time in milliseconds since the
  // epoch. At start() the gateway reads them back and wakes each session
  // when its alarm comes due. Null: alarms are kept in memory only.
  StoreClient* store = nullptr;
  std::string alarm_prefix = "alarms/";
  // The sessions' ActorStore, if they persist state: /metrics then reports
  // snapshot writes, failures and write time, and the age of the oldest
  // change not yet written.
  const ActorStore* actors = nullptr;
};

class Gateway {
 public:
  Gateway(Runtime& rt, GatewayOptions options = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Before start(): serve `prefix` ("/rooms") with sessions from `make`.
  void route(std::string prefix, SessionFactory make, KindOptions options = {});
  // Before start(): plain HTTP GET handlers (/healthz and /metrics exist).
  void add_http_handler(std::string path, HttpHandler handler);

  // Starts the routes' supervisors and binds the port.
  std::error_code start();
  std::uint16_t port() const;
  // Stops accepting, closes every connection with 1001, then stops the
  // sessions (each runs on_stop). Idempotent.
  void stop();

  WebSocketServer& server();
  Runtime& runtime() const { return rt_; }

  struct Kind;  // internal: one per route

 private:
  std::string metrics_text() const;

  Runtime& rt_;
  GatewayOptions options_;
  std::unique_ptr<WebSocketServer> server_;
  std::vector<std::shared_ptr<Kind>> kinds_;
  Pid root_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace troupe
