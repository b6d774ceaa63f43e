// ClusterNode: its life (join, lease, members, drain, leave) and where
// session names live (locate, claim, ended). The links and the forwarded
// connections are in node_links.cpp, the HTTP endpoints in node_http.cpp.

#include "cluster/node.hpp"

#include "cluster/detail/proxy.hpp"
#include "cluster/link/frame.hpp"
#include "cluster/link/link_hub.hpp"
#include "cluster/redis_directory.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/receive.hpp"
#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe::cluster {

using namespace std::chrono_literals;
using Kind = SessionPlacement::Location::Kind;

namespace {
// How long a call into the directory may take before the caller hears
// "unavailable" (the directory's own command timeout usually answers first).
constexpr Duration directory_timeout = 5s;
// How often the node reads the live nodes, to open and close links.
constexpr Duration members_every = 500ms;
// A proxy with no connection for this long ends.
constexpr Duration proxy_idle = 5s;
}  // namespace

ClusterNode::ClusterNode(Runtime& rt, ClusterOptions options)
    : rt_(rt), options_(std::move(options)) {
  if (options_.renew_every.count() == 0) options_.renew_every = options_.lease / 5;
  if (options_.lease_margin.count() == 0) options_.lease_margin = options_.lease / 5;
  SchedulerGroup own = rt_.add_schedulers(1);
  directory_scheduler_ = own.count ? own.first : 0;
}

ClusterNode::~ClusterNode() {
  // Its process was killed before it could close them, and the runtime's
  // loops are gone: their handles go with the process (no callback can run).
  if (hub_) (void)hub_.release();
  if (directory_) (void)directory_.release();
}

void ClusterNode::attach(Gateway& gateway, Persistence& persistence) {
  gateway_ = &gateway;
  persistence_ = &persistence;
  link_scheduler_ = gateway.io_schedulers().first;
  gateway.add_http_handler("/cluster/owner",
                           [this](const HttpRequest& r) { return owner_response(r); });
  gateway.add_http_handler("/cluster/nodes",
                           [this](const HttpRequest&) { return nodes_response(); });
  if (options_.test_faults)
    gateway.add_http_handler("/cluster/fault",
                             [this](const HttpRequest& r) { return fault_response(r); });
}

void ClusterNode::attach(Gateway& gateway, StoreConnection& store) {
  if (!store.shared())
    throw std::invalid_argument(
        "a cluster keeps its sessions' state in a store every node "
        "shares (Redis), not in the " +
        store.what() + ", which is one machine's");
  attach(gateway, store.persistence());
}

template <class T, class Op>
Task<StoreResult<T>> ClusterNode::on_directory(Process& self, Op op, Duration timeout) {
  Ref ref = self.expect_reply();
  ReplyTo to{self.self(), ref};
  Runtime* rt = &rt_;
  rt_.post(directory_scheduler_, [rt, to, op = std::move(op)]() mutable {
    op([rt, to](StoreResult<T> result) { rt->reply(to, std::move(result)); });
  });
  auto answer = co_await self.await_reply<StoreResult<T>>(ref, timeout);
  if (answer.ok()) co_return std::move(answer.value());
  co_return unexpected(
      StoreError{StoreErrc::unavailable,
                 "the cluster's directory did not answer: " + to_string(answer.error())});
}

// --- where names live --------------------------------------------------------------------

Task<SessionPlacement::Location> ClusterNode::locate(Process& self, const std::string& name) {
  auto found = co_await on_directory<std::optional<Owner>>(
      self, [this, name](StoreCallback<std::optional<Owner>> done) {
        if (!in_cluster_ || steady_now() >= lease_until_)
          return done(unexpected(
              StoreError{StoreErrc::unavailable, "node " + options_.node_id + " holds no lease"}));
        directory_->lookup(name, std::move(done));
      });
  if (!found) {
    counters_.directory_errors.fetch_add(1, std::memory_order_relaxed);
    co_return Location{Kind::wait, {}, 0, found.error().message};
  }
  const std::optional<Owner>& owner = found.value();
  const bool draining = draining_.load();
  if (!owner || owner->node == options_.node_id) {
    // A draining node takes nothing, not even back: it waits for another.
    if (draining)
      co_return Location{Kind::wait,
                         {},
                         0,
                         "node " + options_.node_id + " is draining; " + name +
                             " waits for another node to take it"};
    co_return Location{Kind::here, {}, 0, {}};
  }
  LinkHub* hub = hub_ready_.load(std::memory_order_acquire);
  if (!hub || !hub->ready(owner->node))
    co_return Location{Kind::wait,
                       {},
                       0,
                       "node " + owner->node + ", which owns " + name +
                           ", cannot be reached and its lease has not run out"};
  co_return Location{Kind::elsewhere, owner->node, owner->fence, {}};
}

Task<SessionPlacement::Claim> ClusterNode::claim(Process& self, const std::string& name) {
  auto claimed =
      co_await on_directory<ClaimResult>(self, [this, name](StoreCallback<ClaimResult> done) {
        if (draining_.load())
          return done(unexpected(
              StoreError{StoreErrc::unavailable, "node " + options_.node_id + " is draining"}));
        if (!in_cluster_ || steady_now() >= lease_until_)
          return done(unexpected(
              StoreError{StoreErrc::unavailable, "node " + options_.node_id + " holds no lease"}));
        directory_->claim(name, [this, name, done = std::move(done)](StoreResult<ClaimResult> r) {
          if (r && r.value().mine) {
            claims_[name] = r.value().owner.fence;
            owned_.store(claims_.size(), std::memory_order_relaxed);
          }
          done(std::move(r));
        });
      });
  if (!claimed) {
    counters_.directory_errors.fetch_add(1, std::memory_order_relaxed);
    co_return Claim{Location{Kind::unavailable, {}, 0, claimed.error().message}, std::nullopt};
  }
  const ClaimResult& c = claimed.value();
  if (!c.mine) {
    counters_.claims_lost.fetch_add(1, std::memory_order_relaxed);
    co_return Claim{Location{Kind::elsewhere, c.owner.node, c.owner.fence, {}}, std::nullopt};
  }
  // Raised in the state store before anything is loaded: from here on, a
  // write by an earlier owner is refused.
  StoreFence fence{options_.fence_prefix + name, c.owner.fence};
  auto raised =
      co_await persistence_->store().batch(self, {WriteOp::fence(fence.key, fence.token)});
  if (!raised) {
    ended(name, fence.token, true);
    co_return Claim{
        Location{Kind::unavailable,
                 {},
                 0,
                 "cannot raise the fence of " + name + ": " + to_string(raised.error())},
        std::nullopt};
  }
  counters_.claims.fetch_add(1, std::memory_order_relaxed);
  co_return Claim{Location{Kind::here, {}, 0, {}}, std::move(fence)};
}

void ClusterNode::ended(const std::string& name, std::uint64_t fence, bool clean) {
  rt_.post(directory_scheduler_, [this, name, fence, clean] {
    auto it = claims_.find(name);
    if (it == claims_.end() || it->second != fence) return;
    claims_.erase(it);
    owned_.store(claims_.size(), std::memory_order_relaxed);
    // After a crash the name stays this node's: the gateway starts it again
    // here if it still has connections.
    if (!clean || !directory_) return;
    counters_.releases.fetch_add(1, std::memory_order_relaxed);
    directory_->release(name, fence, [name](StoreResult<bool> r) {
      if (!r)
        log_warning("cluster", "cannot release a name",
                    {{"name", name}, {"error", to_string(r.error())}});
    });
  });
}

Pid ClusterNode::open_proxy(Runtime& rt, const std::string& name, const Location& where,
                            int scheduler) {
  ClusterNode* node = this;
  return rt.spawn(
      [node, name, owner = where.node, fence = where.fence](Process& self) {
        return detail::run_proxy(self, node, name, owner, fence, proxy_idle);
      },
      SpawnOptions{.scheduler = scheduler});
}

Task<ClusterNode::Placed> ClusterNode::place(Process& self, const std::string& name,
                                             SteadyTime deadline) {
  for (;;) {
    if (Pid local = rt_.registry().whereis(name)) co_return Placed{local, {}, 0, {}};
    Location where = co_await locate(self, name);
    if (where.kind == Kind::here) {
      auto found = co_await gateway_->find_session(self, name);
      if (found.ok() && found.value()) co_return Placed{found.value(), {}, 0, {}};
      // Claimed elsewhere meanwhile: locate again.
      if (found.ok() || !found.error().detail().starts_with(moved_reason))
        co_return Placed{{},
                         {},
                         0,
                         "cannot start " + name +
                             (found.ok() ? std::string() : ": " + to_string(found.error()))};
    } else if (where.kind == Kind::elsewhere) {
      co_return Placed{{}, where.node, where.fence, {}};
    } else if (where.kind == Kind::unavailable) {
      co_return Placed{{}, {}, 0, name + " cannot be placed: " + where.error};
    }
    if (steady_now() >= deadline)
      co_return Placed{{}, {}, 0, name + " cannot be placed: " + where.error};
    co_await self.sleep_for(50ms);
  }
}

Task<SendResult> ClusterNode::cast(Process& self, std::string name, std::string payload) {
  Placed placed = co_await place(self, name, steady_now() + 5s);
  if (placed.local)
    co_return troupe::cast(self, placed.local, Remote{options_.node_id, std::move(payload)});
  if (placed.node.empty()) co_return SendResult::noproc;
  if (!link_send(placed.node,
                 LinkFrame{FrameType::send, 0, placed.fence, name, std::move(payload)}))
    co_return SendResult::noproc;
  counters_.casts_out.fetch_add(1, std::memory_order_relaxed);
  co_return SendResult::ok;
}

Task<Result<std::string, std::string>> ClusterNode::call(Process& self, std::string name,
                                                         std::string payload, Duration timeout) {
  using Answer = Result<std::string, std::string>;
  const auto deadline = steady_now() + timeout;
  Placed placed = co_await place(self, name, deadline);
  if (placed.local) {
    auto r = co_await troupe::call(self, placed.local, Ask{options_.node_id, std::move(payload)},
                                   std::max<Duration>(deadline - steady_now(), 1ms));
    if (r.ok()) co_return std::move(r.value());
    co_return unexpected(to_string(r.error()));
  }
  if (placed.node.empty()) co_return unexpected(std::move(placed.error));
  const std::uint64_t id = next_call_.fetch_add(1);
  Ref ref = self.expect_reply();
  {
    std::lock_guard lock(calls_mutex_);
    calls_[id] = {ReplyTo{self.self(), ref}, placed.node};
  }
  const bool sent = link_send(
      placed.node, LinkFrame{FrameType::call, id, placed.fence, name, std::move(payload)});
  std::optional<CallResult<Answer>> reply;
  if (sent)
    reply =
        co_await self.await_reply<Answer>(ref, std::max<Duration>(deadline - steady_now(), 1ms));
  {
    std::lock_guard lock(calls_mutex_);
    calls_.erase(id);
  }
  if (!sent) co_return unexpected("the link to node " + placed.node + " is down");
  if (reply->ok()) co_return std::move(reply->value());
  co_return unexpected("no answer from " + name + " on node " + placed.node + ": " +
                       to_string(reply->error()));
}

// --- the node's life ---------------------------------------------------------------------

ChildSpec ClusterNode::child_spec(std::string id) {
  ClusterNode* node = this;
  auto start = [node](Process& sup, const std::string& name) {
    return start_link(
        sup, [node](Process& self, InitAck ack) -> Proc { return node->run(self, std::move(ack)); },
        StartOptions{
            .name = name,
            .spawn = SpawnOptions{.scheduler = static_cast<int>(node->directory_scheduler_)}});
  };
  // Stopping drains: as long as the sessions' on_stop and flush take.
  return ChildSpec{.id = std::move(id),
                   .start = ChildStart("cluster", std::move(start)),
                   .shutdown = std::chrono::seconds(30)};
}

Task<bool> ClusterNode::join(Process& self) {
  NodeInfo info{options_.node_id, 0, options_.advertise_host, gateway_->port(), 0, false};
  if (LinkHub* hub = hub_ready_.load()) info.peer_port = hub->port();
  const auto sent = steady_now();
  auto joined =
      co_await on_directory<std::uint64_t>(self, [this, info](StoreCallback<std::uint64_t> done) {
        directory_->join(info, options_.lease, std::move(done));
      });
  if (!joined) {
    counters_.directory_errors.fetch_add(1, std::memory_order_relaxed);
    log_error("cluster", "cannot join the cluster",
              {{"node", options_.node_id}, {"error", to_string(joined.error())}});
    co_return false;
  }
  incarnation_ = joined.value();
  lease_until_ = sent + options_.lease - options_.lease_margin;
  in_cluster_ = true;
  counters_.joins.fetch_add(1, std::memory_order_relaxed);
  log_info("cluster", "joined",
           {{"node", options_.node_id}, {"incarnation", std::to_string(incarnation_)}});
  co_return true;
}

void ClusterNode::lease_lost(const std::string& why) {
  if (!in_cluster_) return;
  in_cluster_ = false;
  counters_.leases_lost.fetch_add(1, std::memory_order_relaxed);
  log_error(
      "cluster", "lease lost: stopping this node's sessions",
      {{"node", options_.node_id}, {"why", why}, {"sessions", std::to_string(claims_.size())}});
  // Killed, not stopped: another node may own them any moment now, and
  // whatever they would still write is fenced off anyway. A kill is no
  // crash: it counts against neither the name (CrashPolicy) nor its
  // snapshot (poison strikes).
  for (auto& [name, fence] : claims_)
    if (Pid pid = rt_.registry().whereis(name)) rt_.exit(pid, troupe::kill);
  claims_.clear();
  owned_.store(0, std::memory_order_relaxed);
}

Task<> ClusterNode::refresh_members(Process& self) {
  auto live = co_await on_directory<std::vector<NodeInfo>>(
      self,
      [this](StoreCallback<std::vector<NodeInfo>> done) { directory_->nodes(std::move(done)); });
  if (!live) co_return;
  std::map<std::string, NodeInfo> now;
  for (auto& n : live.value()) now[n.id] = n;
  std::map<std::string, NodeInfo> before;
  {
    std::lock_guard lock(members_mutex_);
    before.swap(members_);
    members_ = now;
  }
  rt_.post(link_scheduler_, [this, before = std::move(before), now = std::move(now)] {
    if (!hub_) return;
    for (auto& [id, n] : now) {
      if (id == options_.node_id) continue;
      auto was = before.find(id);
      if (was == before.end() || was->second.host != n.host ||
          was->second.peer_port != n.peer_port || !hub_->ready(id))
        hub_->connect(id, n.host, n.peer_port);
    }
    for (auto& [id, n] : before)
      if (!now.contains(id) && id != options_.node_id) hub_->forget(id);
  });
}

Task<> ClusterNode::keep_lease(Process& self, Pid parent) {
  auto next_members = steady_now();
  // Nothing here waits past the lease's own deadline: a renewal that does
  // not come back in time, or a wait for the next one, ends at it.
  auto until_deadline = [this](Duration d) {
    if (!in_cluster_) return d;
    return std::clamp<Duration>(lease_until_ - steady_now(), Duration(1ms), d);
  };
  for (;;) {
    bool stop = false;
    co_await self.receive(
        when([parent](const Exit& e) { return e.from == parent; }, [&](Exit&) { stop = true; }),
        after(until_deadline(options_.renew_every), [] {}));
    if (stop) co_return;
    if (in_cluster_ && !drop_renewals_.load() && steady_now() < lease_until_) {
      const auto sent = steady_now();
      const bool draining = draining_.load();
      auto renewed = co_await on_directory<void>(
          self,
          [this, draining](StoreCallback<void> done) {
            directory_->renew(draining, std::move(done));
          },
          until_deadline(directory_timeout));
      if (renewed) {
        lease_until_ = sent + options_.lease - options_.lease_margin;
      } else if (renewed.error().code == StoreErrc::conflict) {
        lease_lost(renewed.error().message);
      } else {
        counters_.directory_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (in_cluster_ && steady_now() >= lease_until_)
      lease_lost("not renewed within " + std::to_string(options_.lease.count()) + " ms");
    if (!in_cluster_ && !drop_renewals_.load() && !draining_.load()) (void)co_await join(self);
    if (refresh_members_now_.exchange(false) || steady_now() >= next_members) {
      next_members = steady_now() + members_every;
      co_await refresh_members(self);
    }
  }
}

Task<> ClusterNode::drain(Process& self) {
  draining_ = true;
  const auto started = steady_now();
  std::vector<std::pair<Ref, std::string>> stopping;
  for (auto& [name, fence] : claims_) {
    Pid pid = rt_.registry().whereis(name);
    if (!pid) continue;
    stopping.emplace_back(self.monitor(pid), name);
    // A shutdown, as from its supervisor: on_stop, its state flushed.
    rt_.exit(pid, troupe::shutdown);
  }
  const auto deadline = steady_now() + 20s;
  std::size_t left = stopping.size();
  while (left > 0 && steady_now() < deadline) {
    bool down = false;
    co_await self.receive(when([](const Down&) { return true; }, [&](Down&) { down = true; }),
                          after(deadline - steady_now(), [] {}));
    if (down) --left;
  }
  // Connections other nodes forwarded here are each sent to find the next
  // owner (refused) once their relay here sees the session gone; the links
  // stay up until then, or the other nodes would count their frames in
  // doubt and close them.
  while (counters_.remote_open.load(std::memory_order_relaxed) > 0 && steady_now() < deadline)
    co_await self.sleep_for(5ms);
  log_info("cluster", "drained",
           {{"node", options_.node_id},
            {"sessions", std::to_string(stopping.size())},
            {"ms", std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(steady_now() - started)
                           .count())}});
}

Proc ClusterNode::run(Process& self, InitAck ack) {
  self.trap_exit(true);
  if (!ack.claim_name(self)) co_return;
  if (!gateway_ || !persistence_)
    self.exit(ExitReason::error("cluster: attach(gateway, persistence) was not called"));
  // The directory lives on this process's scheduler, whose loop it uses.
  if (!directory_) {
    // Its commands time out well within a lease, so that a stuck Redis is
    // noticed while this node still holds one.
    const auto bound = std::max<std::chrono::milliseconds>(options_.lease / 3, 100ms);
    auto made = RedisDirectory::create(rt_.loop(directory_scheduler_),
                                       RedisDirectoryOptions{.url = options_.url,
                                                             .key_prefix = options_.key_prefix,
                                                             .connect_timeout = bound,
                                                             .command_timeout = bound,
                                                             .wait_timeout = bound / 2});
    if (!made) self.exit(ExitReason::error("cluster: " + to_string(made.error())));
    directory_ = std::move(made.value());
    auto connected = co_await on_directory<void>(self, [this](StoreCallback<void> done) {
      static_cast<RedisDirectory&>(*directory_).connect(std::move(done));
    });
    if (!connected)
      co_await fail(self, ExitReason::error("cluster: cannot reach the directory: " +
                                            to_string(connected.error())));
  }
  // The links listen first, so that the node announces its peer port.
  std::error_code listening = co_await start_links(self);
  if (listening)
    co_await fail(self, ExitReason::error(
                            "cluster: the node link cannot listen on " + options_.peer_bind + ":" +
                            std::to_string(options_.peer_port) + ": " + listening.message()));
  if (!co_await join(self))
    co_await fail(self, ExitReason::error("cluster: node " + options_.node_id +
                                          " cannot join the cluster at " + options_.url));
  co_await refresh_members(self);
  ack.ok(self);
  co_await keep_lease(self, ack.starter());
  co_await drain(self);
  auto left = co_await on_directory<void>(
      self, [this](StoreCallback<void> done) { directory_->leave(std::move(done)); });
  if (!left)
    log_warning("cluster", "cannot leave the cluster; its lease runs out by itself",
                {{"error", to_string(left.error())}});
  in_cluster_ = false;
  co_await close_parts(self);
  self.exit(troupe::shutdown);
}

// A start that fails closes what it opened first (a directory that keeps
// reconnecting would keep its loop, and the runtime, from ending).
Task<> ClusterNode::fail(Process& self, ExitReason why) {
  co_await close_parts(self);
  self.exit(std::move(why));
}

// The links and the directory closed, each on its own loop, before the
// node's process ends: the loops outlive it, the handles do not.
Task<> ClusterNode::close_parts(Process& self) {
  Ref links = self.expect_reply();
  rt_.post(link_scheduler_, [this, to = ReplyTo{self.self(), links}] {
    hub_ready_.store(nullptr, std::memory_order_release);
    if (!hub_) return (void)rt_.reply(to, true);
    hub_->close([this, to] {
      // Not inside the hub's own callback: it still runs on the hub.
      rt_.post(link_scheduler_, [this, to] {
        hub_.reset();
        inbound_.clear();
        inbound_by_origin_.clear();
        rt_.reply(to, true);
      });
    });
  });
  (void)co_await self.await_reply<bool>(links, 10s);
  Ref directory = self.expect_reply();
  rt_.post(directory_scheduler_, [this, to = ReplyTo{self.self(), directory}] {
    if (!directory_) return (void)rt_.reply(to, true);
    directory_->close([this, to] {
      rt_.post(directory_scheduler_, [this, to] {
        directory_.reset();
        rt_.reply(to, true);
      });
    });
  });
  (void)co_await self.await_reply<bool>(directory, 10s);
}

std::vector<NodeInfo> ClusterNode::members() const {
  std::lock_guard lock(members_mutex_);
  std::vector<NodeInfo> out;
  for (auto& [id, n] : members_) out.push_back(n);
  return out;
}

}  // namespace troupe::cluster
