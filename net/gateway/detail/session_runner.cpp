// The body of a session's process: its callbacks in turn, alarms, idle
// stop, and on_stop when the gateway stops; and the helpers sessions call.

#include <exception>

#include "net/gateway/detail/route_state.hpp"
#include "net/ws/server.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace troupe {

namespace {

// The route as a session's loop sees it.
class RouteHost final : public detail::SessionHost {
 public:
  RouteHost(Gateway::Route& route, std::string name, std::optional<StoreFence> fence)
      : route_(route), name_(std::move(name)), fence_(std::move(fence)) {}

  std::optional<AlarmTime> stored_alarm() const override { return route_.alarms->get(name_); }

  Task<> clear_fired_alarm(Process& self, std::optional<AlarmTime> fired) override {
    auto cleared = co_await route_.alarms->clear(self, name_, fired, fence_);
    if (!cleared)
      log_warning("gateway", "the fired alarm stays in the store",
                  {{"session", route_.names + name_}, {"error", to_string(cleared.error())}});
  }

  void stopped_cleanly() override { route_.health->stopped_cleanly(route_.names + name_); }

 private:
  Gateway::Route& route_;
  std::string name_;
  std::optional<StoreFence> fence_;  // in a cluster: the claim's
};

}  // namespace

namespace {
// Tells the cluster that the incarnation that claimed its name ended,
// however it ends.
struct ClaimScope {
  SessionPlacement* placement;
  const std::string& name;
  const std::optional<StoreFence>& fence;
  bool clean = false;
  ~ClaimScope() {
    if (placement && fence) placement->ended(name, fence->token, clean);
  }
};
}  // namespace

Proc SessionRunner::run(Process& self, Gateway::Route* route, std::string name, Duration delay,
                        std::optional<StoreFence> fence) {
  // Exits are trapped so that a shutdown by the route's supervisor (the
  // gateway stopping) runs on_stop. An abnormal exit signal from any other
  // linked process still ends the session, as if it did not trap them.
  self.trap_exit(true);
  const Pid parent = self.runtime().registry().whereis(route->supervisor);
  if (delay > Duration::zero()) {
    // Restart backoff: registered already, so its connections attach and
    // their frames wait in the mailbox; only a shutdown cuts it short.
    bool shut_down = false;
    co_await self.receive(when([parent](const Exit& e) { return e.from == parent; },
                               [&](Exit&) { shut_down = true; }),
                          after(delay, [] {}));
    if (shut_down) co_return;
  }
  const std::string full_name = route->names + name;
  ClaimScope claim{route->gateway->placement(), full_name, fence};
  detail::UseScope use(*route->retention, full_name);  // retention: waits out an erase of the name
  co_await use.enter(self);

  // In a cluster, another node may have set or cleared the alarm since
  // this one read it.
  if (fence) {
    auto read = co_await route->alarms->refresh(self, name);
    if (!read)
      self.exit(ExitReason::error("cannot read the alarm of " + full_name + ": " +
                                  to_string(read.error())));
  }
  std::unique_ptr<SessionBase> session = route->sessions.make();
  detail::SessionAccess::bind(*session, self, name, full_name, route->alarms.get());
  detail::SessionAccess::set_fence(*session, fence);
  RouteHost host(*route, name, fence);
  host.parent = parent;
  host.idle_timeout = route->options.idle_timeout;
  host.server = &route->gateway->server();
  host.sink = route->sink;
  host.persistence = route->gateway->persistence();

  const auto started = steady_now();
  std::exception_ptr crash;
  ExitReason why;
  try {
    co_await route->sessions.serve(self, host, *session);
    claim.clean = true;
    co_return;
  } catch (const detail::ExitRequest& e) {
    // An exit it chose: a shutdown, or a failure it named (a snapshot that
    // cannot be loaded or written exits with the store's error).
    if (e.reason.is_normal_exit()) {
      claim.clean = true;
      throw;
    }
    why = e.reason;
    crash = std::current_exception();
  } catch (...) {
    crash = std::current_exception();
    why = detail::reason_from_exception(crash);
  }
  // A crash: recorded against this name alone (and, for a persistent
  // session, against the snapshot it loaded: a poison strike), then the
  // process fails with it. A due alarm needs an incarnation even if nobody
  // is connected.
  route->health->crashed(full_name, to_string(why), started, steady_now());
  co_await detail::SessionAccess::end_state(*session, self, why);
  if (detail::SessionAccess::alarm(*session)) route->restart_later(full_name);
  std::rethrow_exception(crash);
}

// --- session helpers ---------------------------------------------------------------------------

bool Connection::send(std::string_view data, MessageKind kind) const {
  if (sink_) [[unlikely]]
    return sink_->send(id_, data, kind);
  return server_->send(id_, data, kind);
}

void Connection::close(std::uint16_t code, std::string_view reason) const {
  if (sink_) [[unlikely]]
    return sink_->close(id_, code, reason);
  server_->close(id_, code, reason);
}

bool Connection::has_tag(std::string_view t) const {
  for (const auto& tag : tags_)
    if (tag == t) return true;
  return false;
}

void SessionBase::broadcast(std::string_view data, std::optional<ConnectionId> except,
                            MessageKind kind) const {
  for (const auto& [id, conn] : connections_)
    if (!except || conn->id() != *except) conn->send(data, kind);
}

Task<StoreResult<void>> SessionBase::set_alarm(AlarmTime at) {
  alarm_ = at;
  co_return co_await alarms_->set(*self_, name_, at, fence_);
}

Task<StoreResult<void>> SessionBase::cancel_alarm() {
  alarm_.reset();
  co_return co_await alarms_->clear(*self_, name_, {}, fence_);
}

std::optional<SessionBase::AlarmTime> SessionBase::alarm() const {
  return alarm_;
}

std::vector<Connection*> SessionBase::connections(std::string_view tag) {
  std::vector<Connection*> out;
  for (auto& [id, conn] : connections_)
    if (tag.empty() || conn->has_tag(tag)) out.push_back(conn.get());
  return out;
}

}  // namespace troupe
