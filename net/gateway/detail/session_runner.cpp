// The body of a session's process: its callbacks in turn, alarms, idle
// stop, and on_stop when the gateway stops; and the helpers sessions call.

#include <cstdio>
#include <exception>
#include <variant>

#include "net/gateway/detail/route_state.hpp"
#include "net/ws/server.hpp"

namespace troupe {

namespace {

struct Idle {};
using Event = std::variant<std::monostate, detail::SessionConnect, detail::SessionFrame,
                           detail::SessionClose, Idle, ExitReason>;

}  // namespace

Proc SessionRunner::run(Process& self, Gateway::Route* kind, std::string name, Duration delay) {
  std::unique_ptr<Session> session = kind->make();
  session->self_ = &self;
  session->name_ = name;
  session->alarms_ = kind->alarms.get();
  // Exits are trapped so that a shutdown by the route's supervisor (the
  // gateway stopping) runs on_stop. An abnormal exit signal from any other
  // linked process still ends the session, as if it did not trap them.
  self.trap_exit(true);
  const Pid parent = self.runtime().registry().whereis(kind->supervisor);
  if (delay > Duration::zero()) {
    // Restart backoff: registered already, so its connections attach and
    // their frames wait in the mailbox; only a shutdown cuts it short.
    bool shut_down = false;
    co_await self.receive(when([parent](const Exit& e) { return e.from == parent; },
                               [&](Exit&) { shut_down = true; }),
                          after(delay, [] {}));
    if (shut_down) co_return;
  }
  const std::string full_name = kind->names + name;
  detail::UseScope use(*kind->retention, full_name);  // retention: waits out an erase of the name
  co_await use.enter(self);
  const auto started = detail::Clock::now();
  std::exception_ptr crash;
  ExitReason why;
  try {
    co_await serve(self, kind, *session, name);
    co_return;
  } catch (const detail::ExitRequest& e) {
    // An exit it chose: a shutdown, or a failure it named (a snapshot that
    // cannot be loaded or written exits with the store's error).
    if (e.reason.is_normal_exit()) throw;
    why = e.reason;
    crash = std::current_exception();
  } catch (...) {
    crash = std::current_exception();
    why = detail::reason_from_exception(crash);
  }
  // A crash: recorded against this name alone, then the process fails
  // with it. A due alarm needs an incarnation even if nobody is connected.
  kind->health->crashed(full_name, why.to_string(), started, detail::Clock::now());
  if (session->alarm_) kind->restart_later(full_name);
  std::rethrow_exception(crash);
}

Task<> SessionRunner::serve(Process& self, Gateway::Route* kind, Session& session_ref,
                            const std::string& name) {
  Session* session = &session_ref;
  ws::Server* server = &kind->gateway->server();
  const Pid parent = self.runtime().registry().whereis(kind->supervisor);
  const std::string full_name = kind->names + name;
  // The book changes under a running session only by its own set_alarm and
  // cancel_alarm, or by the keeper's load, which tells it (AlarmsChanged).
  session->alarm_ = kind->alarms->get(name);
  co_await session->on_start();
  for (;;) {
    auto alarm = session->alarm_;
    auto until_alarm = alarm ? *alarm - std::chrono::system_clock::now() : Duration::max();
    if (alarm && until_alarm <= Duration::zero()) {
      co_await session->on_alarm();
      // Cleared only now, so that a crash in on_alarm runs it again; an
      // alarm that on_alarm set stays.
      if (session->alarm_ == alarm) session->alarm_.reset();
      auto cleared = co_await kind->alarms->clear(self, name, alarm);
      if (!cleared)
        std::fprintf(stderr, "troupe: the fired alarm of %s%s stays in the store: %s\n",
                     kind->names.c_str(), name.c_str(), cleared.error().to_string().c_str());
      continue;
    }
    // Idle only counts while nobody is connected; an alarm may come first.
    Duration wait = infinite_wait;
    bool idle_wait = session->connections_.empty();
    if (idle_wait) wait = kind->options.idle_timeout;
    if (until_alarm < wait) {
      wait = until_alarm;
      idle_wait = false;
    }
    Event ev = co_await self.receive([](detail::SessionConnect& c) { return Event{std::move(c)}; },
                                     [](detail::SessionFrame& f) { return Event{std::move(f)}; },
                                     [](detail::SessionClose& c) { return Event{std::move(c)}; },
                                     [&](const detail::AlarmsChanged&) {
                                       session->alarm_ = kind->alarms->get(name);
                                       return Event{};
                                     },
                                     [&](Exit& e) {
                                       if (e.from != parent && e.reason == normal) return Event{};
                                       return Event{std::move(e.reason)};
                                     },
                                     [&](AnyMessage& m) {
                                       session->on_info(m);
                                       return Event{std::monostate{}};
                                     },
                                     after(wait, [] { return Event{Idle{}}; }));
    if (auto* c = std::get_if<detail::SessionConnect>(&ev)) {
      auto& slot = session->connections_[c->conn.value];
      slot = std::make_unique<Connection>(c->conn, server);
      slot->progress_ = std::move(c->progress);
      slot->pending_ = c->pending;
      co_await session->on_connect(
          *slot, ConnectInfo{std::move(c->request), c->resumed, std::move(c->interrupted)});
    } else if (auto* f = std::get_if<detail::SessionFrame>(&ev)) {
      auto it = session->connections_.find(f->conn.value);
      if (it != session->connections_.end()) {
        Connection& c = *it->second;
        // The connection outlives this call: only a SessionClose, taken by
        // this loop, removes it.
        detail::FrameProgress* progress = c.progress_.get();
        progress->taken.store(f->seq, std::memory_order_release);
        c.pending_->fetch_sub(1, std::memory_order_relaxed);
        co_await session->on_message(c, *f->data, f->kind);
        progress->handled.store(f->seq, std::memory_order_release);
      }
    } else if (auto* c = std::get_if<detail::SessionClose>(&ev)) {
      auto it = session->connections_.find(c->conn.value);
      if (it != session->connections_.end()) {
        std::unique_ptr<Connection> gone = std::move(it->second);
        session->connections_.erase(it);
        co_await session->on_close(*gone, c->code, c->reason);
      }
    } else if (auto* reason = std::get_if<ExitReason>(&ev)) {
      if (!reason->is_normal_exit()) self.exit(std::move(*reason));
      co_await session->on_stop();
      kind->health->stopped_cleanly(full_name);
      self.exit(std::move(*reason));
    } else if (std::holds_alternative<Idle>(ev) && idle_wait && session->connections_.empty()) {
      // Nobody connected and nothing sent for idle_timeout: stop until the
      // next connection.
      co_await session->on_stop();
      kind->health->stopped_cleanly(full_name);
      co_return;
    }
  }
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
  alarm_ = at;
  co_return co_await alarms_->set(*self_, name_, at);
}

Task<StoreResult<void>> Session::cancel_alarm() {
  alarm_.reset();
  co_return co_await alarms_->clear(*self_, name_);
}

std::optional<Session::AlarmTime> Session::alarm() const {
  return alarm_;
}

std::vector<Connection*> Session::connections(std::string_view tag) {
  std::vector<Connection*> out;
  for (auto& [id, conn] : connections_)
    if (tag.empty() || conn->has_tag(tag)) out.push_back(conn.get());
  return out;
}

}  // namespace troupe
