#include "net/gateway.hpp"

#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "net/detail/alarm_book.hpp"
#include "net/websocket_server.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe {

namespace {

// From the loop thread to a connection's process.
struct FrameIn {
  std::string data;
  MessageKind kind;
};
struct ClosedIn {
  std::uint16_t code;
  std::string reason;
};

// How far a session got with a connection's frames: the sequence number
// of the frame it last took up. Shared by the connection's process, which
// hands the frames after it to the next incarnation if the session crashes
// (the one it was handling when it crashed is not handed again: it may be
// what crashed it).
using Progress = std::shared_ptr<std::atomic<std::uint64_t>>;

// From a connection's process to its session.
struct SessionConnect {
  ConnectionId conn;
  HttpRequest request;
  bool resumed;
  Progress progress;
};
struct SessionFrame {
  ConnectionId conn;
  std::shared_ptr<const std::string> data;  // shared with the redelivery buffer
  MessageKind kind;
  std::uint64_t seq;
};
struct SessionClose {
  ConnectionId conn;
  std::uint16_t code;
  std::string reason;
};

std::string registry_prefix(const std::string& route) {
  return route.substr(1) + "/";
}

}  // namespace

struct Gateway::Kind : RouteHandler {
  Gateway* gateway = nullptr;
  std::string prefix;      // "/rooms"
  std::string names;       // "rooms/": registry prefix of its sessions
  std::string supervisor;  // registry name of its dynamic supervisor
  SessionFactory make;
  KindOptions options;
  std::atomic<std::uint64_t> restarts{0};
  std::unique_ptr<detail::AlarmBook> alarms;
  std::string alarm_keeper;  // registry name of its alarm keeper

  // Connection → its process, one map per loop: each is touched only by the
  // callbacks of its own loop's thread.
  std::vector<std::unordered_map<ConnectionId, Pid>> by_loop;

  Admission authorize(const HttpRequest& r) override {
    return options.authorize ? options.authorize(r) : Admission::admit();
  }
  void on_open(ConnectionId conn, const HttpRequest& request) override;
  void on_message(ConnectionId conn, std::string_view data, MessageKind kind) override;
  void on_close(ConnectionId conn, std::uint16_t code, std::string_view reason) override;

  Task<Registry::Lookup> find_session(Process& self, const std::string& name, bool after_crash);
  detail::AlarmKeeperHooks alarm_hooks();
};

// --- the session's process --------------------------------------------------------------

class SessionRunner {
 public:
  static Proc run(Process& self, Gateway::Kind* kind, std::string name);

 private:
  struct Idle {};
  using Event =
      std::variant<std::monostate, SessionConnect, SessionFrame, SessionClose, Idle, ExitReason>;
};

Proc SessionRunner::run(Process& self, Gateway::Kind* kind, std::string name) {
  std::unique_ptr<Session> session = kind->make();
  session->self_ = &self;
  session->name_ = name;
  session->alarms_ = kind->alarms.get();
  WebSocketServer* server = &kind->gateway->server();
  std::unordered_map<std::uint64_t, Progress> progress;  // per connection
  // Exits are trapped so that a shutdown by the route's supervisor (the
  // gateway stopping) runs on_stop. An abnormal exit signal from any other
  // linked process still ends the session, as if it did not trap them.
  self.trap_exit(true);
  Pid parent = self.runtime().registry().whereis(kind->supervisor);
  co_await session->on_start();
  for (;;) {
    auto alarm = session->alarm();
    auto until_alarm = alarm ? *alarm - std::chrono::system_clock::now() : Duration::max();
    if (alarm && until_alarm <= Duration::zero()) {
      co_await session->on_alarm();
      // Cleared only now, so that a crash in on_alarm runs it again.
      auto cleared = co_await kind->alarms->clear(self, name, alarm);
      if (!cleared)
        std::fprintf(stderr, "troupe: the fired alarm of %s%s stays in the store: %s\n",
                     kind->names.c_str(), name.c_str(), cleared.error().to_string().c_str());
      continue;
    }
    // Idle only counts while nobody is connected; an alarm may come first.
    Duration wait = Duration(std::chrono::hours(24 * 365));
    bool idle_wait = session->connections_.empty();
    if (idle_wait) wait = kind->options.idle_timeout;
    if (until_alarm < wait) {
      wait = until_alarm;
      idle_wait = false;
    }
    Event ev = co_await self.receive([](SessionConnect& c) { return Event{std::move(c)}; },
                                     [](SessionFrame& f) { return Event{std::move(f)}; },
                                     [](SessionClose& c) { return Event{std::move(c)}; },
                                     [](const detail::AlarmsChanged&) { return Event{}; },
                                     [&](Exit& e) {
                                       if (e.from != parent && e.reason == normal) return Event{};
                                       return Event{std::move(e.reason)};
                                     },
                                     [&](AnyMessage& m) {
                                       session->on_info(m);
                                       return Event{std::monostate{}};
                                     },
                                     after(wait, [] { return Event{Idle{}}; }));
    if (auto* c = std::get_if<SessionConnect>(&ev)) {
      auto& slot = session->connections_[c->conn.value];
      slot = std::make_unique<Connection>(c->conn, server);
      progress[c->conn.value] = c->progress;
      co_await session->on_connect(*slot, ConnectInfo{std::move(c->request), c->resumed});
    } else if (auto* f = std::get_if<SessionFrame>(&ev)) {
      auto it = session->connections_.find(f->conn.value);
      if (it != session->connections_.end()) {
        progress[f->conn.value]->store(f->seq, std::memory_order_release);
        co_await session->on_message(*it->second, *f->data, f->kind);
      }
    } else if (auto* c = std::get_if<SessionClose>(&ev)) {
      auto it = session->connections_.find(c->conn.value);
      if (it != session->connections_.end()) {
        std::unique_ptr<Connection> gone = std::move(it->second);
        session->connections_.erase(it);
        progress.erase(c->conn.value);
        co_await session->on_close(*gone, c->code, c->reason);
      }
    } else if (auto* reason = std::get_if<ExitReason>(&ev)) {
      if (!reason->is_normal_exit()) self.exit(std::move(*reason));
      co_await session->on_stop();
      self.exit(std::move(*reason));
    } else if (std::holds_alternative<Idle>(ev) && idle_wait && session->connections_.empty()) {
      // Nobody connected and nothing sent for idle_timeout: stop until the
      // next connection.
      co_await session->on_stop();
      co_return;
    }
  }
}

// --- a connection's process ---------------------------------------------------------------

namespace {

Proc connection_process(Process& self, Gateway::Kind* kind, ConnectionId conn,
                        HttpRequest request) {
  std::string name = kind->names + request.name;
  WebSocketServer& server = kind->gateway->server();
  auto progress = std::make_shared<std::atomic<std::uint64_t>>(0);
  // Frames handed to the session that it may not have taken up yet.
  std::deque<SessionFrame> in_flight;
  std::uint64_t next_seq = 1;
  bool resumed = false;
  for (;;) {
    auto found = co_await kind->find_session(self, name, resumed);
    if (!found.ok() || !found.value()) {
      server.close(conn, close_code::internal_error, "session unavailable");
      co_await self.receive([](const ClosedIn&) {});
      co_return;
    }
    Pid session = found.value();
    Ref watch = self.monitor(session);
    self.send(session, SessionConnect{conn, request, resumed, progress});
    // The frame the crashed incarnation was handling is dropped; the ones
    // after it go to this one first, in order.
    std::uint64_t taken = progress->load(std::memory_order_acquire);
    while (!in_flight.empty() && in_flight.front().seq <= taken) in_flight.pop_front();
    for (const SessionFrame& f : in_flight) self.send(session, SessionFrame(f));
    bool closed = false, lost = false;
    while (!closed && !lost) {
      co_await self.receive(
          [&](FrameIn& f) {
            taken = progress->load(std::memory_order_acquire);
            while (!in_flight.empty() && in_flight.front().seq <= taken) in_flight.pop_front();
            SessionFrame frame{conn, std::make_shared<const std::string>(std::move(f.data)), f.kind,
                               next_seq++};
            in_flight.push_back(frame);
            self.send(session, std::move(frame));
          },
          [&](ClosedIn& c) {
            self.send(session, SessionClose{conn, c.code, std::move(c.reason)});
            closed = true;
          },
          when([watch](const Down& d) { return d.ref == watch; }, [&](Down&) { lost = true; }));
    }
    if (closed) {
      self.demonitor(watch);
      co_return;
    }
    ++kind->restarts;
    if (kind->options.close_on_crash) {
      server.close(conn, close_code::service_restart, "session restarting");
      co_await self.receive([](const ClosedIn&) {});
      co_return;
    }
    resumed = true;  // new frames wait in this mailbox meanwhile, in order
  }
}

}  // namespace

Task<Registry::Lookup> Gateway::Kind::find_session(Process& self, const std::string& name,
                                                   bool after_crash) {
  Registry& registry = self.runtime().registry();
  if (after_crash) {
    // Its supervisor is restarting it: wait for the new incarnation rather
    // than start a second one beside it.
    auto again = co_await registry.wait_for(self, name, options.restart_wait);
    if (again.ok()) co_return again;
  }
  std::string short_name = name.substr(names.size());
  co_return co_await registry.lookup_or_start(
      self, name,
      [this, name, short_name](Process& starter) -> Task<Registry::Lookup> {
        auto sup = co_await starter.runtime().registry().wait_for(starter, supervisor,
                                                                  std::chrono::seconds(5));
        if (!sup.ok()) co_return unexpected(sup.error());
        Kind* kind = this;
        ChildSpec spec{.id = name,
                       .start = process_child([kind, short_name](Process& p) -> Proc {
                         return SessionRunner::run(p, kind, short_name);
                       }),
                       .restart = transient,
                       .name = name};
        auto started = co_await start_child(starter, sup.value(), std::move(spec));
        if (started.ok()) co_return started.value();
        co_return unexpected(
            ExitReason::error("cannot start " + name + ": " + to_string(started.error())));
      },
      options.restart_wait);
}

namespace {

// Starts a session whose alarm is due (it fires the alarm itself).
Proc wake_for_alarm(Process& self, Gateway::Kind* kind, std::string name) {
  auto found = co_await kind->find_session(self, name, false);
  if (!found.ok())
    std::fprintf(stderr, "troupe: cannot start %s for its alarm: %s\n", name.c_str(),
                 found.error().to_string().c_str());
}

}  // namespace

detail::AlarmKeeperHooks Gateway::Kind::alarm_hooks() {
  detail::AlarmKeeperHooks hooks;
  Runtime* rt = &gateway->runtime();
  hooks.poke = [this, rt](const std::string& name) {
    return rt->send(names + name, detail::AlarmsChanged{}) == SendResult::ok;
  };
  hooks.start = [this, rt](const std::string& name) {
    rt->spawn(
        [this, full = names + name](Process& self) { return wake_for_alarm(self, this, full); });
  };
  return hooks;
}

void Gateway::Kind::on_open(ConnectionId conn, const HttpRequest& request) {
  Runtime& rt = gateway->runtime();
  Pid pid =
      rt.spawn([this, conn, request](
                   Process& self) -> Proc { return connection_process(self, this, conn, request); },
               SpawnOptions{.scheduler = static_cast<int>(conn.loop() % rt.scheduler_count()),
                            .max_mailbox = options.max_pending_frames,
                            .overflow = Overflow::reject});
  by_loop[conn.loop()][conn] = pid;
}

void Gateway::Kind::on_message(ConnectionId conn, std::string_view data, MessageKind kind) {
  auto& map = by_loop[conn.loop()];
  auto it = map.find(conn);
  if (it == map.end()) return;
  SendResult r = gateway->runtime().send(it->second, FrameIn{std::string(data), kind});
  if (r == SendResult::mailbox_full)
    gateway->server().close(conn, close_code::policy_violation, "too many frames queued");
}

void Gateway::Kind::on_close(ConnectionId conn, std::uint16_t code, std::string_view reason) {
  auto& map = by_loop[conn.loop()];
  auto it = map.find(conn);
  if (it == map.end()) return;
  // Not bounded by the mailbox limit: a close must always get through.
  Pid pid = it->second;
  map.erase(it);
  Runtime& rt = gateway->runtime();
  while (rt.send(pid, ClosedIn{code, std::string(reason)}) == SendResult::mailbox_full)
    rt.exit(pid, troupe::shutdown);
}

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
  kind->by_loop.resize(rt_.scheduler_count());
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
  rt_.exit(root_, troupe::shutdown);
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
  out << "# TYPE troupe_session_alarms gauge\n";
  for (auto& kind : kinds_)
    out << "troupe_session_alarms{route=\"" << kind->prefix << "\"} " << kind->alarms->size()
        << "\n";
  return out.str();
}

// --- session helpers ---------------------------------------------------------------------------

bool Connection::send(std::string_view data, MessageKind kind) const {
  return server_->send(id_, data, kind);
}

void Connection::close(std::uint16_t code, std::string_view reason) const {
  server_->close(id_, code, reason);
}

bool Connection::has_tag(std::string_view t) const {
  for (const auto& tag : tags_)
    if (tag == t) return true;
  return false;
}

void Session::broadcast(std::string_view data, std::optional<ConnectionId> except,
                        MessageKind kind) const {
  for (const auto& [id, conn] : connections_)
    if (!except || conn->id() != *except) conn->send(data, kind);
}

Task<StoreResult<void>> Session::set_alarm(AlarmTime at) {
  co_return co_await alarms_->set(*self_, name_, at);
}

Task<StoreResult<void>> Session::cancel_alarm() {
  co_return co_await alarms_->clear(*self_, name_);
}

std::optional<Session::AlarmTime> Session::alarm() const {
  return alarms_->get(name_);
}

std::vector<Connection*> Session::connections(std::string_view tag) {
  std::vector<Connection*> out;
  for (auto& [id, conn] : connections_)
    if (tag.empty() || conn->has_tag(tag)) out.push_back(conn.get());
  return out;
}

}  // namespace troupe
