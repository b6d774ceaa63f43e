#include "net/gateway/gateway.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "net/gateway/detail/route_state.hpp"
#include "net/ws/server.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe {

namespace {

std::string registry_prefix(const std::string& route) {
  return route.substr(1) + "/";
}

// Watches the gateway's root supervisor: if it ends while the gateway is
// not stopping, it gave up, and nothing can serve any more.
template <class RootState>
Proc watch_root(Process& self, Pid root, std::shared_ptr<RootState> state,
                std::function<void(const ExitReason&)> on_failure) {
  Ref watch = self.monitor(root);
  ExitReason reason = normal;
  co_await self.receive(
      when([watch](const Down& d) { return d.ref == watch; }, [&](Down& d) { reason = d.reason; }));
  state->down.store(true);
  if (state->stopping.load()) co_return;
  if (on_failure) {
    on_failure(reason);
    co_return;
  }
  log_error("gateway", "the gateway's root supervisor gave up: exiting",
            {{"reason", to_string(reason)}});
  std::fflush(nullptr);
  std::_Exit(70);  // EX_SOFTWARE; no destructors: other threads still run
}

// Shuts `root` down and reports when it has exited.
Proc shut_down(Process& self, Pid root, std::function<void(bool)> done) {
  Ref watch = self.monitor(root);
  self.runtime().exit(root, troupe::shutdown);  // from the application: a root heeds only that
  co_await self.receive(when([watch](const Down& d) { return d.ref == watch; }, [](Down&) {}));
  done(true);
}

}  // namespace

// --- the gateway ------------------------------------------------------------------------------

namespace {
std::vector<ws::EventLoop> loops_of(Runtime& rt, SchedulerGroup group) {
  std::vector<ws::EventLoop> loops;
  for (unsigned i = group.first; i < group.first + group.count; ++i)
    loops.push_back(ws::EventLoop{rt.loop(i), [&rt, i](std::function<void()> fn) {
                                    rt.post(i, std::move(fn));
                                  }});
  return loops;
}

SchedulerGroup own_or(Runtime& rt, unsigned count) {
  SchedulerGroup group = count ? rt.add_schedulers(count) : SchedulerGroup{};
  return group.count ? group : rt.own_schedulers();
}
}  // namespace

Gateway::Gateway(Runtime& rt, GatewayOptions options)
    : rt_(rt),
      options_(std::move(options)),
      io_(own_or(rt, options_.io_schedulers)),
      retention_(std::make_unique<detail::Retention>(rt, options_)) {
  server_ = make_server();
}

// A ws::Server starts once: a gateway that serves again after it stopped
// (the tree restarted it) gets a new one, with the same routes and handlers.
std::unique_ptr<ws::Server> Gateway::make_server() {
  auto server = std::make_unique<ws::Server>(loops_of(rt_, io_), options_.server);
  server->add_http_handler("/healthz", [this](const HttpRequest&) { return health(); });
  server->add_http_handler("/metrics", [this](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4", metrics_text()};
  });
  for (auto& [path, handler] : http_handlers_) server->add_http_handler(path, handler);
  for (auto& kind : routes_) server->add_route(kind->prefix, kind, kind->options.limits);
  return server;
}

Gateway::~Gateway() {
  stop();
}

ws::Server& Gateway::server() {
  return *server_;
}

std::uint16_t Gateway::port() const {
  return server_->port();
}

void Gateway::add_route(std::string prefix, SessionFactory sessions, RouteOptions options) {
  auto kind = std::make_shared<Route>();
  kind->gateway = this;
  kind->prefix = prefix;
  kind->names = registry_prefix(prefix);
  kind->supervisor = "gateway.sessions" + prefix;
  kind->sessions = std::move(sessions);
  kind->options = std::move(options);
  kind->health = std::make_unique<detail::SessionHealth>(kind->options.crash);
  kind->group = own_or(rt_, kind->options.schedulers);
  kind->io = io_;
  for (unsigned i = 0; i < io_.count; ++i)
    kind->relays.push_back(std::make_unique<detail::Relay>());
  kind->alarm_keeper = "gateway.alarms" + prefix;
  kind->alarms = std::make_unique<detail::AlarmBook>(
      rt_, options_.persistence ? &options_.persistence->store() : nullptr,
      options_.alarm_prefix + kind->names, kind->alarm_keeper);
  kind->retention = retention_.get();
  retention_->add_route(kind->names, kind->alarms.get());
  server_->add_route(prefix, kind, kind->options.limits);
  routes_.push_back(std::move(kind));
}

void Gateway::add_http_handler(std::string path, HttpHandler handler) {
  server_->add_http_handler(path, handler);
  http_handlers_.emplace_back(std::move(path), std::move(handler));
}

// The routes' supervisors, their alarm keepers and the retention sweeper.
SupervisorSpec Gateway::supervisor_spec() {
  SupervisorSpec spec{.strategy = one_for_one, .intensity = 10, .period = std::chrono::seconds(5)};
  for (auto& kind : routes_)
    spec.children.push_back(ChildSpec{.id = kind->prefix,
                                      .start = dynamic_supervisor(kind->options.supervisor),
                                      .type = supervisor,
                                      .name = kind->supervisor});
  for (auto& kind : routes_) {
    Route* k = kind.get();
    spec.children.push_back(ChildSpec{.id = kind->alarm_keeper,
                                      .start = process_child([k](Process& self) -> Proc {
                                        return detail::alarm_keeper(self, *k->alarms,
                                                                    k->alarm_hooks());
                                      }),
                                      .name = kind->alarm_keeper});
  }
  spec.children.push_back(retention_->child_spec());
  return spec;
}

std::error_code Gateway::start() {
  root_ = start_root(rt_, supervisor_spec());
  rt_.spawn([root = root_, state = root_state_, failure = options_.on_root_failure](Process& self) {
    return watch_root(self, root, state, failure);
  });
  started_ = true;
  return open_server();
}

void Gateway::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  close_server();
  // Then the sessions stop (on_stop) with their supervisors.
  rt_.run_on_async<bool>(0, [this](std::function<void(bool)> done) {
    rt_.spawn([root = root_, done](Process& self) { return shut_down(self, root, done); });
  });
}

std::error_code Gateway::open_server() {
  root_state_->stopping = false;
  std::error_code failed = server_->start();
  serving_ = !failed;
  return failed;
}

void Gateway::close_server() {
  if (!serving_.exchange(false)) return;
  root_state_->stopping = true;
  server_->shutdown();
  server_->wait_stopped();
  // Every connection has closed, so the watchers are ending; then the
  // sessions stop (on_stop) with their supervisors. Nothing that uses the
  // routes may outlive this call.
  for (auto& kind : routes_)
    if (!kind->wait_helpers_gone(kind->options.restart_wait + std::chrono::seconds(5)))
      log_warning("gateway", "session watchers did not end", {{"route", kind->prefix}});
}

HttpResponse Gateway::health() const {
  std::string problems;
  if (root_state_->down) problems += "the root supervisor gave up\n";
  const Registry& registry = rt_.registry();
  for (const auto& kind : routes_) {
    if (!registry.whereis(kind->supervisor))
      problems += "route " + kind->prefix + ": its session supervisor is down\n";
    if (!registry.whereis(kind->alarm_keeper))
      problems += "route " + kind->prefix + ": its alarm keeper is down\n";
  }
  if (problems.empty()) return HttpResponse{200, "text/plain", "ok\n"};
  return HttpResponse{503, "text/plain", problems};
}

Result<Gateway::Route*, std::string> Gateway::open_remote(
    ConnectionId conn, const HttpRequest& request, bool resumed,
    std::optional<std::string> interrupted, std::shared_ptr<detail::ConnectionSink> sink) {
  Route* route = nullptr;
  for (auto& r : routes_)
    if (r->prefix == request.route) route = r.get();
  if (!route) return unexpected("no route serves " + request.route);
  // The node that holds the socket asked already; asked again here, where
  // the crash record of the name is kept.
  Admission admitted = route->authorize(request);
  if (!admitted.admitted())
    return unexpected(std::to_string(admitted.status) + " " + admitted.body);
  route->open(conn, request, std::move(sink), resumed, std::move(interrupted));
  return route;
}

Task<Registry::Lookup> Gateway::find_session(Process& self, const std::string& name) {
  for (auto& r : routes_)
    if (name.starts_with(r->names) && name.size() > r->names.size())
      co_return co_await r->find_session(self, name);
  co_return unexpected(ExitReason::error("no route serves " + name));
}

void Gateway::remote_message(Route& route, ConnectionId conn, std::string_view data,
                             MessageKind kind) {
  route.on_message(conn, data, kind);
}

void Gateway::remote_close(Route& route, ConnectionId conn, std::uint16_t code,
                           std::string_view reason) {
  route.on_close(conn, code, reason);
}

bool Gateway::Route::gateway_stopping() const {
  return gateway->root_state_->stopping.load();
}

Admission Gateway::Route::authorize(const HttpRequest& r) {
  const std::string full = names + r.name;
  // Names whose keys a store cannot hold would fail at every start.
  auto too_long = [&](const std::optional<StoreError>& e) {
    return Admission::reject(400, "name cannot be stored: " + e->message + "\n");
  };
  const GatewayOptions& g = gateway->options_;
  if (g.persistence) {
    if (auto e = g.persistence->check_actor(full)) return too_long(e);
    // The alarm key, and the last-use record that retention keeps there.
    for (const std::string* prefix : {&g.alarm_prefix, &g.use_prefix})
      if (auto e = g.persistence->store().store().key_error(*prefix + full)) return too_long(e);
  }
  if (auto wait = health->refused(full, steady_now())) {
    auto seconds = std::chrono::ceil<std::chrono::seconds>(*wait).count();
    return Admission::reject(503, "session unavailable after repeated crashes; retry in " +
                                      std::to_string(seconds) + " s\n");
  }
  return options.authorize ? options.authorize(r) : Admission::admit();
}

std::string Gateway::metrics_text() const {
  ws::Counters c = server_->counters();
  std::ostringstream out;
  auto one = [&](const char* name, const char* type, auto value) {
    out << "# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
  };
  auto per_route = [&](const char* name, const char* type, auto value_of) {
    out << "# TYPE " << name << " " << type << "\n";
    for (auto& kind : routes_)
      out << name << "{route=\"" << kind->prefix << "\"} " << value_of(*kind) << "\n";
  };
  one("troupe_processes", "gauge", rt_.process_count());
  const RuntimeStats held = rt_.stats();  // the watchdog's (runtime/watchdog.hpp)
  one("troupe_watchdog_overruns_total", "counter", held.overruns);
  one("troupe_watchdog_cpu_limit_hits_total", "counter", held.cpu_limit_hits);
  one("troupe_watchdog_migrations_total", "counter", held.migrations);
  one("troupe_watchdog_longest_run_ms", "gauge", held.longest_run_ms);
  one("troupe_connections", "gauge", c.connections_open);
  one("troupe_frames_in_total", "counter", c.frames_in);
  one("troupe_frames_out_total", "counter", c.frames_out);
  one("troupe_bytes_in_total", "counter", c.bytes_in);
  one("troupe_bytes_out_total", "counter", c.bytes_out);
  one("troupe_upgrades_refused_total", "counter", c.upgrades_refused);
  one("troupe_closed_for_overflow_total", "counter", c.closed_for_overflow);
  one("troupe_closed_for_size_total", "counter", c.closed_for_size);
  one("troupe_invalid_text_refused_total", "counter", c.invalid_text_refused);
  one("troupe_origin_refused_total", "counter", c.origin_refused);
  one("troupe_host_refused_total", "counter", c.host_refused);
  one("troupe_request_heads_refused_total", "counter", c.heads_refused);
  one("troupe_tls_reloads_total", "counter", c.tls_reloads);
  one("troupe_tls_reload_failures_total", "counter", c.tls_reload_failures);
  one("troupe_throttled_total", "counter", c.throttled);
  one("troupe_closed_for_rate_total", "counter", c.closed_for_rate);
  one("troupe_outbound_bytes", "gauge", c.outbound_bytes);
  per_route("troupe_sessions", "gauge",
            [&](const Route& k) { return rt_.registry().list(k.names).size(); });
  per_route("troupe_session_restarts_total", "counter",
            [](const Route& k) { return k.health->restarts(); });
  per_route("troupe_session_crashes_total", "counter",
            [](const Route& k) { return k.health->crashes(); });
  per_route("troupe_sessions_refused", "gauge",
            [](const Route& k) { return k.health->refused_count(steady_now()); });
  per_route("troupe_session_pending_frames", "gauge", [](const Route& k) {
    std::int64_t pending = 0;
    for (auto& relay : k.relays) pending += relay->pending.load(std::memory_order_relaxed);
    return std::max<std::int64_t>(pending, 0);  // counted out on another thread first
  });
  per_route("troupe_session_alarms", "gauge", [](const Route& k) { return k.alarms->size(); });
  if (options_.persistence) {
    PersistenceStats p = options_.persistence->metrics();
    auto seconds = [](Duration d) {
      return std::chrono::duration<double>(d).count();
    };
    one("troupe_snapshot_writes_total", "counter", p.writes);
    one("troupe_snapshot_write_failures_total", "counter", p.write_failures);
    out << "# TYPE troupe_snapshot_write_seconds summary\n"
        << "troupe_snapshot_write_seconds_sum " << seconds(p.write_time) << "\n"
        << "troupe_snapshot_write_seconds_count " << p.writes << "\n";
    one("troupe_unsaved_actors", "gauge", p.unsaved_actors);
    one("troupe_oldest_unsaved_seconds", "gauge", seconds(p.oldest_unsaved));
  }
  retention_->write_metrics(out);
  if (options_.placement) options_.placement->write_metrics(out);
  return out.str();
}

}  // namespace troupe
