#include "net/gateway.hpp"

#include <cstdio>
#include <future>
#include <sstream>

#include "net/detail/gateway_kind.hpp"
#include "net/websocket_server.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe {

namespace {

std::string registry_prefix(const std::string& route) {
  return route.substr(1) + "/";
}

// Shuts `root` down and reports when it has exited.
Proc shut_down(Process& self, Pid root, std::promise<void>* done) {
  Ref watch = self.monitor(root);
  self.runtime().exit(root, troupe::shutdown);  // from the application: a root heeds only that
  co_await self.receive(when([watch](const Down& d) { return d.ref == watch; }, [](Down&) {}));
  done->set_value();
}

}  // namespace

// --- the gateway ------------------------------------------------------------------------------

namespace {
std::vector<EventLoop> loops_of(Runtime& rt) {
  std::vector<EventLoop> loops;
  for (unsigned i = 0; i < rt.scheduler_count(); ++i)
    loops.push_back(EventLoop{rt.loop(i), [&rt, i](std::function<void()> fn) {
                                rt.post(i, std::move(fn));
                              }});
  return loops;
}
}  // namespace

Gateway::Gateway(Runtime& rt, GatewayOptions options)
    : rt_(rt),
      options_(std::move(options)),
      server_(std::make_unique<WebSocketServer>(loops_of(rt), options_.server)) {
  server_->add_http_handler("/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok\n"};
  });
  server_->add_http_handler("/metrics", [this](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4", metrics_text()};
  });
}

Gateway::~Gateway() {
  stop();
}

WebSocketServer& Gateway::server() {
  return *server_;
}

std::uint16_t Gateway::port() const {
  return server_->port();
}

void Gateway::route(std::string prefix, SessionFactory make, KindOptions options) {
  auto kind = std::make_shared<Kind>();
  kind->gateway = this;
  kind->prefix = prefix;
  kind->names = registry_prefix(prefix);
  kind->supervisor = "gateway.sessions" + prefix;
  kind->make = std::move(make);
  kind->options = std::move(options);
  for (unsigned i = 0; i < rt_.scheduler_count(); ++i)
    kind->relays.push_back(std::make_unique<detail::Relay>());
  kind->alarm_keeper = "gateway.alarms" + prefix;
  kind->alarms = std::make_unique<detail::AlarmBook>(
      rt_, options_.store, options_.alarm_prefix + kind->names, kind->alarm_keeper);
  server_->add_route(prefix, kind, kind->options.route);
  kinds_.push_back(std::move(kind));
}

void Gateway::add_http_handler(std::string path, HttpHandler handler) {
  server_->add_http_handler(std::move(path), std::move(handler));
}

std::error_code Gateway::start() {
  SupervisorSpec spec{.strategy = one_for_one, .intensity = 10, .period = std::chrono::seconds(5)};
  for (auto& kind : kinds_)
    spec.children.push_back(ChildSpec{.id = kind->prefix,
                                      .start = dynamic_supervisor(kind->options.supervisor),
                                      .type = supervisor,
                                      .name = kind->supervisor});
  for (auto& kind : kinds_) {
    Kind* k = kind.get();
    spec.children.push_back(ChildSpec{.id = kind->alarm_keeper,
                                      .start = process_child([k](Process& self) -> Proc {
                                        return detail::alarm_keeper(self, *k->alarms,
                                                                    k->alarm_hooks());
                                      }),
                                      .name = kind->alarm_keeper});
  }
  root_ = start_root(rt_, spec);
  started_ = true;
  return server_->start();
}

void Gateway::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  server_->shutdown();
  server_->wait_stopped();
  // Every connection has closed, so the watchers are ending; then the
  // sessions stop (on_stop) with their supervisors. Nothing that uses the
  // routes may outlive this call.
  for (auto& kind : kinds_)
    if (!kind->wait_helpers_gone(kind->options.restart_wait + std::chrono::seconds(5)))
      std::fprintf(stderr, "troupe: gateway %s: session watchers did not end\n",
                   kind->prefix.c_str());
  std::promise<void> down;
  rt_.spawn([this, &down](Process& self) { return shut_down(self, root_, &down); });
  if (down.get_future().wait_for(std::chrono::seconds(60)) != std::future_status::ready)
    std::fprintf(stderr, "troupe: gateway: the sessions did not stop within 60 s\n");
}

std::string Gateway::metrics_text() const {
  ServerCounters c = server_->counters();
  std::ostringstream out;
  out << "# TYPE troupe_processes gauge\ntroupe_processes " << rt_.process_count() << "\n";
  out << "# TYPE troupe_connections gauge\ntroupe_connections " << c.connections_open << "\n";
  out << "# TYPE troupe_frames_in_total counter\ntroupe_frames_in_total " << c.frames_in << "\n";
  out << "# TYPE troupe_frames_out_total counter\ntroupe_frames_out_total " << c.frames_out << "\n";
  out << "# TYPE troupe_bytes_in_total counter\ntroupe_bytes_in_total " << c.bytes_in << "\n";
  out << "# TYPE troupe_bytes_out_total counter\ntroupe_bytes_out_total " << c.bytes_out << "\n";
  out << "# TYPE troupe_sessions gauge\n";
  for (auto& kind : kinds_)
    out << "troupe_sessions{route=\"" << kind->prefix << "\"} "
        << rt_.registry().list(kind->names).size() << "\n";
  out << "# TYPE troupe_session_restarts_total counter\n";
  for (auto& kind : kinds_)
    out << "troupe_session_restarts_total{route=\"" << kind->prefix << "\"} "
        << kind->restarts.load() << "\n";
  out << "# TYPE troupe_session_pending_frames gauge\n";
  for (auto& kind : kinds_) {
    std::int64_t pending = 0;
    for (auto& relay : kind->relays) pending += relay->pending.load(std::memory_order_relaxed);
    pending = std::max<std::int64_t>(pending, 0);  // counted out on another thread first
    out << "troupe_session_pending_frames{route=\"" << kind->prefix << "\"} " << pending << "\n";
  }
  out << "# TYPE troupe_session_alarms gauge\n";
  for (auto& kind : kinds_)
    out << "troupe_session_alarms{route=\"" << kind->prefix << "\"} " << kind->alarms->size()
        << "\n";
  if (options_.actors) {
    PersistMetrics p = options_.actors->metrics();
    auto seconds = [](Duration d) {
      return std::chrono::duration<double>(d).count();
    };
    out << "# TYPE troupe_snapshot_writes_total counter\ntroupe_snapshot_writes_total " << p.writes
        << "\n";
    out << "# TYPE troupe_snapshot_write_failures_total counter\n"
        << "troupe_snapshot_write_failures_total " << p.write_failures << "\n";
    out << "# TYPE troupe_snapshot_write_seconds summary\n"
        << "troupe_snapshot_write_seconds_sum " << seconds(p.write_time) << "\n"
        << "troupe_snapshot_write_seconds_count " << p.writes << "\n";
    out << "# TYPE troupe_unsaved_actors gauge\ntroupe_unsaved_actors " << p.unsaved_actors << "\n";
    out << "# TYPE troupe_oldest_unsaved_seconds gauge\ntroupe_oldest_unsaved_seconds "
        << seconds(p.oldest_unsaved) << "\n";
  }
  return out.str();
}

}  // namespace troupe
