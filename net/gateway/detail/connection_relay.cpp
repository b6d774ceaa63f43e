// A route's connections on one loop and the sessions they talk to: each
// connection's frames go straight from the loop to its session; one watcher
// process per session name and loop finds or starts the session, monitors
// it, and when it crashes hands the loop's connections to the next
// incarnation (on_connect with resumed = true) with the frames it had not
// taken up yet, in order. See route_state.hpp for who touches what.

#include <algorithm>
#include <cstdio>

#include "net/gateway/detail/route_state.hpp"
#include "net/ws/server.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe {

using detail::RelayedConnection;
using detail::SessionGroup;

Gateway::Route::HelperScope::HelperScope(Route& r) : route(r) {
  std::lock_guard lock(route.helpers_mutex);
  ++route.helpers;
}

Gateway::Route::HelperScope::~HelperScope() {
  std::lock_guard lock(route.helpers_mutex);
  if (--route.helpers == 0) route.helpers_cv.notify_all();
}

bool Gateway::Route::wait_helpers_gone(Duration limit) {
  std::unique_lock lock(helpers_mutex);
  return helpers_cv.wait_for(lock, limit, [&] { return helpers == 0; });
}

void Gateway::Route::close(ConnectionId conn, std::uint16_t code, std::string_view reason) {
  if (sink) [[unlikely]]
    return sink->close(conn, code, reason);
  if (is_remote(conn)) [[unlikely]]
    return gateway->placement()->close_remote(conn, code, reason);
  gateway->server().close(conn, code, reason);
}

void detail::RelayedConnection::drop_handled() {
  // Kept until handled, not just taken: a frame being handled when its
  // session crashes is still here to be named (hand_over_interrupted).
  const std::uint64_t handled = progress->handled.load(std::memory_order_acquire);
  while (first < frames.size() && frames[first].seq <= handled) ++first;
  if (first == frames.size()) {
    frames.clear();
    first = 0;
  } else if (first >= 32 && first * 2 >= frames.size()) {
    // A session that stays behind: drop the taken half, amortised O(1).
    frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(first));
    first = 0;
  }
}

Task<Registry::Lookup> Gateway::Route::find_session(Process& self, const std::string& name) {
  co_return co_await self.runtime().registry().lookup_or_start(
      self, name,
      [this, name](Process& starter) -> Task<Registry::Lookup> {
        // Only here, the one starter of the name, does the name's crash
        // record decide: start now, after a backoff, or not for a while.
        auto decision = health->before_start(name, steady_now());
        if (decision.refused)
          co_return unexpected(
              ExitReason::error(std::string(refused_reason) + " (" + decision.last_error + ")"));
        auto sup = co_await starter.runtime().registry().wait_for(starter, supervisor,
                                                                  std::chrono::seconds(5));
        if (!sup.ok()) co_return unexpected(sup.error());
        // In a cluster the name is claimed first: its fence is raised in
        // the store before the incarnation loads its state.
        std::optional<StoreFence> fence;
        if (SessionPlacement* placement = gateway->placement()) {
          auto claim = co_await placement->claim(starter, name);
          if (claim.where.kind == SessionPlacement::Location::Kind::elsewhere)
            co_return unexpected(
                ExitReason::error(std::string(moved_reason) + " (" + claim.where.node + ")"));
          if (claim.where.kind == SessionPlacement::Location::Kind::unavailable)
            co_return unexpected(
                ExitReason::error("cannot claim " + name + ": " + claim.where.error));
          fence = claim.fence;
        }
        Route* route = this;
        std::string short_name = name.substr(names.size());
        Duration delay = decision.delay;
        // Temporary: the gateway, not the supervisor, starts it again after
        // a crash, so that no crash counts against the route's intensity.
        ChildSpec spec{.id = name,
                       .start = process_child(
                           [route, short_name, delay, fence](Process& p) -> Proc {
                             return SessionRunner::run(p, route, short_name, delay, fence);
                           },
                           SpawnOptions{.placement = Placement::spread, .group = group}),
                       .restart = temporary,
                       .name = name};
        auto started = co_await start_child(starter, sup.value(), std::move(spec));
        if (started.ok()) co_return started.value();
        co_return unexpected(
            ExitReason::error("cannot start " + name + ": " + to_string(started.error())));
      },
      options.restart_wait);
}

Task<Registry::Lookup> Gateway::Route::find_serving(Process& self, unsigned loop,
                                                    const std::string& name) {
  SessionPlacement* placement = gateway->placement();
  if (!placement) co_return co_await find_session(self, name);
  using Kind = SessionPlacement::Location::Kind;
  detail::Relay& relay = *relays[loop];
  const auto deadline = steady_now() + options.restart_wait;
  for (int attempt = 0;; ++attempt) {
    // Registered here: this node owns it (only an incarnation that claimed
    // it registers the name).
    if (Pid local = self.runtime().registry().whereis(name)) co_return local;
    auto where = co_await placement->locate(self, name);
    if (where.kind != Kind::here) {
      // Connections forwarded from other nodes go to the owner directly:
      // their nodes are told to find it again.
      SessionGroup& group = relay.groups.at(name);
      std::vector<ConnectionId> remote;
      for (ConnectionId id : group.members)
        if (is_remote(id)) remote.push_back(id);
      for (ConnectionId id : remote) {
        std::erase(group.members, id);
        relay.connections.at(id).closing = true;
        placement->close_remote(id, 0, "moved");
        on_close(id, close_code::going_away, "moved");
      }
      if (group.members.empty()) co_return Pid{};
    }
    if (where.kind == Kind::unavailable)
      co_return unexpected(ExitReason::error(std::string(unavailable_reason) + ": " + where.error));
    if (where.kind == Kind::wait) {
      if (steady_now() >= deadline || gateway_stopping())
        co_return unexpected(
            ExitReason::error(std::string(unavailable_reason) + ": " + where.error));
      co_await self.sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (where.kind == Kind::elsewhere)
      co_return placement->open_proxy(self.runtime(), name, where,
                                      static_cast<int>(io.first + loop));
    auto found = co_await find_session(self, name);
    // Claimed by another node between locate and claim: locate again.
    if (!found.ok() && found.error().detail().starts_with(moved_reason) && attempt < 10) continue;
    co_return found;
  }
}

namespace {

// Backpressure: a connection is paused when this many of its frames wait
// for their session, and read again when no more than resume_at wait.
std::size_t pause_at(const RouteOptions& o) {
  return std::max<std::size_t>(2, o.max_pending_frames / 2);
}
std::size_t resume_at(const RouteOptions& o) {
  return o.max_pending_frames / 8;
}

}  // namespace

// Reads the paused connections of a loop again as their sessions catch up.
Proc Gateway::Route::resume_readers(Process& self, Route* route, unsigned loop) {
  HelperScope scope(*route);
  detail::Relay& relay = *route->relays[loop];
  while (!relay.paused.empty()) {
    co_await self.sleep_for(std::chrono::milliseconds(2));
    std::erase_if(relay.paused, [&](ConnectionId id) {
      auto it = relay.connections.find(id);
      if (it == relay.connections.end() || it->second.closing) return true;
      RelayedConnection& c = it->second;
      c.drop_handled();
      if (c.waiting() > resume_at(route->options)) return false;
      c.paused = false;
      route->gateway->server().pause_reading(id, false);
      return true;
    });
  }
  relay.resumer = false;
}

namespace {

// Starts a session whose alarm is due (it fires the alarm itself). A name
// refused for crashing is tried again when its refusal ends, while the
// alarm is still set and the gateway runs.
Proc wake_for_alarm(Process& self, Gateway::Route* route, std::string name) {
  Gateway::Route::HelperScope scope(*route);
  const std::string short_name = name.substr(route->names.size());
  for (;;) {
    auto found = co_await route->find_session(self, name);
    if (found.ok() || route->gateway_stopping() || !route->alarms->get(short_name)) co_return;
    if (found.error().detail().starts_with(moved_reason)) {
      route->alarms->forget(short_name);  // its owner's to wake
      co_return;
    }
    log_warning("gateway", "cannot start a session for its alarm",
                {{"name", name}, {"error", to_string(found.error())}});
    auto retry = route->health->refused(name, steady_now());
    if (!retry) co_return;
    // Wakes at least every second to notice the gateway stopping.
    auto until = steady_now() + *retry;
    while (steady_now() < until && !route->gateway_stopping())
      co_await self.sleep_for(std::min<Duration>(until - steady_now(), 1s));
  }
}

}  // namespace

detail::AlarmKeeperHooks Gateway::Route::alarm_hooks() {
  detail::AlarmKeeperHooks hooks;
  Runtime* rt = &gateway->runtime();
  hooks.poke = [this, rt](const std::string& name) {
    return rt->send(names + name, detail::AlarmsChanged{}) == SendResult::ok;
  };
  hooks.start = [this](const std::string& name) {
    restart_later(names + name);
  };
  if (gateway->placement()) hooks.reload_every = std::chrono::seconds(2);
  return hooks;
}

void Gateway::Route::restart_later(const std::string& name) {
  gateway->runtime().spawn(
      [this, name](Process& self) { return wake_for_alarm(self, this, name); });
}

namespace {

// Hands every connection of `group` to `session`: on_connect, then the
// frames it has not taken up yet, in order.
void attach(Runtime& rt, detail::Relay& relay, SessionGroup& group, Pid session) {
  group.session = session;
  for (ConnectionId id : group.members) {
    RelayedConnection& c = relay.connections.at(id);
    c.drop_handled();
    rt.send(session, detail::SessionConnect{id, c.request, c.resumed, std::move(c.interrupted),
                                            c.progress, &relay.pending, c.remote});
    c.interrupted.reset();
    const std::uint64_t taken = c.progress->taken.load(std::memory_order_acquire);
    for (std::size_t i = c.first; i < c.frames.size(); ++i)
      if (c.frames[i].seq > taken) rt.send(session, detail::SessionFrame(c.frames[i]));
  }
}

// Closes every connection of the group and forgets the group: new
// connections to the name start a new one.
void close_group(Gateway::Route& route, detail::Relay& relay, const std::string& name,
                 std::uint16_t code, std::string_view reason) {
  auto it = relay.groups.find(name);
  std::vector<ConnectionId> members = std::move(it->second.members);
  relay.groups.erase(it);
  for (ConnectionId id : members) relay.connections.at(id).closing = true;
  // close() may call on_close right here, which erases the connection.
  for (ConnectionId id : members) route.close(id, code, reason);
}

// The connections whose frame the session was handling when it ended: each
// is closed with 1011 so that its client hears of it (or, with
// hand_over_interrupted, handed over with that frame as `interrupted`).
void close_interrupted(Gateway::Route& route, detail::Relay& relay, SessionGroup& group) {
  std::vector<ConnectionId> interrupted;
  for (ConnectionId id : group.members) {
    RelayedConnection& c = relay.connections.at(id);
    const std::uint64_t taken = c.progress->taken.load(std::memory_order_acquire);
    const std::uint64_t handled = c.progress->handled.load(std::memory_order_acquire);
    if (taken == handled) continue;
    // One frame in doubt: the one a local session was handling. More: an
    // owner on another node was lost with frames it may have handled.
    if (route.options.hand_over_interrupted && taken == handled + 1) {
      auto frame = std::find_if(c.frames.begin(), c.frames.end(),
                                [&](const detail::SessionFrame& f) { return f.seq == taken; });
      if (frame != c.frames.end()) c.interrupted = *frame->data;
      continue;
    }
    interrupted.push_back(id);
  }
  for (ConnectionId id : interrupted) {
    relay.connections.at(id).closing = true;
    std::erase(group.members, id);
  }
  for (ConnectionId id : interrupted)
    route.close(id, close_code::internal_error, "session failed while handling your message");
}

Proc session_watcher(Process& self, Gateway::Route* route, unsigned loop, std::string name) {
  Gateway::Route::HelperScope scope(*route);
  detail::Relay& relay = *route->relays[loop];
  Runtime& rt = self.runtime();
  int died_at_once = 0;
  for (;;) {
    auto found = co_await route->find_serving(self, loop, name);
    // Only this process erases its group, so it is still there.
    SessionGroup& group = relay.groups.at(name);
    if (group.members.empty()) {
      relay.groups.erase(name);
      co_return;
    }
    // Started, and dead before it could be found: it crashed at once, and
    // its crash record paces the next start (or refuses it).
    if (!found.ok() && found.error().kind() == ExitReason::Kind::noproc && ++died_at_once < 100)
      continue;
    if (!found.ok() || !found.value()) {
      // Refused for crashing: its clients may come back later (1013).
      // So is a cluster that cannot place it now.
      const bool refused = !found.ok() && (found.error().detail().starts_with(refused_reason) ||
                                           found.error().detail().starts_with(unavailable_reason));
      close_group(*route, relay, name,
                  refused ? close_code::try_again_later : close_code::internal_error,
                  refused ? "session unavailable, try again later" : "session unavailable");
      co_return;
    }
    died_at_once = 0;
    Pid session = found.value();
    Ref watch = self.monitor(session);
    attach(rt, relay, group, session);
    bool lost = false;
    while (!lost) {
      co_await self.receive(
          [](const detail::GroupEmptied&) {},
          when([watch](const Down& d) { return d.ref == watch; }, [&](Down&) { lost = true; }));
      if (!lost && group.members.empty()) {
        self.demonitor(watch);
        relay.groups.erase(name);
        co_return;
      }
    }
    // The session ended under its connections; frames wait meanwhile.
    group.session = Pid{};
    for (const auto& d : group.closed_in_doubt)
      relay.pending -= static_cast<std::int64_t>(
          d.last_seq - std::min(d.last_seq, d.progress->taken.load(std::memory_order_acquire)));
    group.closed_in_doubt.clear();
    if (route->options.close_on_crash) {
      close_group(*route, relay, name, close_code::service_restart, "session restarting");
      co_return;
    }
    close_interrupted(*route, relay, group);
    if (group.members.empty()) {
      relay.groups.erase(name);
      co_return;
    }
    for (ConnectionId id : group.members) relay.connections.at(id).resumed = true;
  }
}

}  // namespace

// --- the loop's callbacks -------------------------------------------------------------------

void Gateway::Route::on_open(ConnectionId conn, const HttpRequest& request) {
  open(conn, request, nullptr, false, {});
}

void Gateway::Route::open(ConnectionId conn, const HttpRequest& request,
                          std::shared_ptr<detail::ConnectionSink> remote, bool resumed,
                          std::optional<std::string> interrupted) {
  Runtime& rt = gateway->runtime();
  const unsigned loop = conn.loop();
  detail::Relay& relay = *relays[loop];
  std::string name = names + request.name;
  RelayedConnection& c = relay.connections[conn];
  c.request = request;
  c.remote = std::move(remote);
  c.resumed = resumed;
  c.interrupted = std::move(interrupted);
  auto [it, fresh] = relay.groups.try_emplace(name);
  SessionGroup& group = it->second;
  c.group = &group;
  group.members.push_back(conn);
  if (fresh) {
    group.watcher = rt.spawn(
        [this, loop, name](Process& self) { return session_watcher(self, this, loop, name); },
        SpawnOptions{.scheduler = static_cast<int>(io.first + loop)});
  } else if (group.session) {
    rt.send(group.session,
            detail::SessionConnect{conn, c.request, c.resumed, std::move(c.interrupted), c.progress,
                                   &relay.pending, c.remote});
    c.resumed = false;
    c.interrupted.reset();
  }
}

void Gateway::Route::on_message(ConnectionId conn, std::string_view data, MessageKind kind) {
  detail::Relay& relay = *relays[conn.loop()];
  auto it = relay.connections.find(conn);
  if (it == relay.connections.end() || it->second.closing) return;
  RelayedConnection& c = it->second;
  c.drop_handled();
  if (c.waiting() >= options.max_pending_frames) {
    close(conn, close_code::policy_violation, "too many frames queued");
    return;  // `c` may be gone: close() can run on_close at once
  }
  detail::SessionFrame frame{conn, std::make_shared<const std::string>(data), kind, c.next_seq++};
  c.frames.push_back(frame);
  ++relay.pending;
  const Pid session = c.group->session;
  if (session) gateway->runtime().send(session, std::move(frame));
  // A session (here or on the node that owns it) that stays behind: the
  // client waits in TCP instead of growing this queue to the close above.
  // A remote connection's node does that for it.
  if (!c.paused && !sink && !is_remote(conn) && c.waiting() >= pause_at(options)) {
    c.paused = true;
    gateway->server().pause_reading(conn, true);
    relay.paused.push_back(conn);
    if (!relay.resumer) {
      relay.resumer = true;
      const unsigned loop = conn.loop();
      gateway->runtime().spawn(
          [this, loop](Process& self) { return resume_readers(self, this, loop); },
          SpawnOptions{.scheduler = static_cast<int>(io.first + loop)});
    }
  }
}

void Gateway::Route::on_close(ConnectionId conn, std::uint16_t code, std::string_view reason) {
  detail::Relay& relay = *relays[conn.loop()];
  auto it = relay.connections.find(conn);
  if (it == relay.connections.end()) return;
  RelayedConnection& c = it->second;
  if (c.closing) {  // its group is already gone, and no session will take its frames
    relay.pending -= static_cast<std::int64_t>(c.untaken());
    relay.connections.erase(it);
    return;
  }
  SessionGroup& group = *c.group;
  if (!group.session) {
    relay.pending -= static_cast<std::int64_t>(c.untaken());
  } else if (c.untaken() > 0) {
    std::erase_if(group.closed_in_doubt, [](const SessionGroup::Closed& d) {
      return d.progress->taken.load(std::memory_order_acquire) >= d.last_seq;
    });
    group.closed_in_doubt.push_back({c.progress, c.next_seq - 1});
  }
  relay.connections.erase(it);
  std::erase(group.members, conn);
  Runtime& rt = gateway->runtime();
  if (group.session) rt.send(group.session, detail::SessionClose{conn, code, std::string(reason)});
  if (group.members.empty()) rt.send(group.watcher, detail::GroupEmptied{});
}

}  // namespace troupe
