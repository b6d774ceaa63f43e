// ClusterNode's links (docs/cluster.md, "Forwarding"): what the peers
// send, the connections they forward here, and the connections this node
// forwards to them. Everything here but link_send and the forwarded table
// runs on the link loop (the gateway's first I/O loop).

#include "cluster/detail/proxy.hpp"
#include "cluster/link/frame.hpp"
#include "cluster/link/link_hub.hpp"
#include "cluster/node.hpp"
#include "cluster/request_codec.hpp"
#include "net/ws/server.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/server.hpp"

namespace troupe::cluster {

namespace {

MessageKind kind_of(std::uint64_t num) {
  return (num & 1) ? MessageKind::binary : MessageKind::text;
}

// A close code a peer may ask this node to send its client: one a server
// sends (RFC 6455 §7.4), else 1011.
std::uint16_t close_code_from(std::uint64_t num) {
  const bool sendable =
      (num >= 1000 && num <= 1003) || (num >= 1007 && num <= 1014) || (num >= 3000 && num <= 4999);
  return sendable ? static_cast<std::uint16_t>(num) : close_code::internal_error;
}

}  // namespace

Task<std::error_code> ClusterNode::start_links(Process& self) {
  Ref ref = self.expect_reply();
  ReplyTo to{self.self(), ref};
  rt_.post(link_scheduler_, [this, to] {
    if (hub_) return (void)rt_.reply(to, std::error_code{});
    LinkHubOptions options;
    options.cluster = options_.cluster;
    options.node_id = options_.node_id;
    // Tells a peer that this process is new (a restarted node replaces its
    // old link); the directory's incarnation comes later, with the join.
    options.incarnation =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    LinkHubHooks hooks;
    hooks.accept_peer = [this](const std::string& node, std::uint64_t) {
      std::lock_guard lock(members_mutex_);
      if (members_.contains(node)) return true;
      // Perhaps a node that joined since the last look: look again soon
      // (its link retries with backoff).
      refresh_members_now_.store(true, std::memory_order_relaxed);
      return false;
    };
    hooks.on_up = [](const std::string& node, std::uint64_t) {
      log_info("cluster", "link up", {{"peer", node}});
    };
    hooks.on_down = [this](const std::string& node, const std::string& why) {
      on_link_down(node, why);
    };
    hooks.on_frame = [this](const std::string& node, LinkFrame&& frame) {
      on_frame(node, std::move(frame));
    };
    hooks.on_pressure = [](const std::string& node, bool congested) {
      log_warning("cluster", congested ? "link congested" : "link drained", {{"peer", node}});
    };
    hub_ = std::make_unique<LinkHub>(rt_.loop(link_scheduler_), options, std::move(hooks));
    std::error_code failed = hub_->listen(options_.peer_bind, options_.peer_port);
    if (!failed) hub_ready_.store(hub_.get(), std::memory_order_release);
    rt_.reply(to, failed);
  });
  auto answer = co_await self.await_reply<std::error_code>(ref, std::chrono::seconds(10));
  co_return answer.ok() ? answer.value() : std::make_error_code(std::errc::timed_out);
}

bool ClusterNode::link_send(const std::string& node, LinkFrame frame) {
  LinkHub* hub = hub_ready_.load(std::memory_order_acquire);
  return hub && hub->send(node, std::move(frame));
}

// --- connections this node forwards (their socket is here) ---------------------------------

void ClusterNode::forward_begin(ConnectionId conn, Forwarded f) {
  std::lock_guard lock(forwarded_mutex_);
  forwarded_[conn.value] = std::move(f);
  counters_.forwarded_open.store(forwarded_.size(), std::memory_order_relaxed);
}

void ClusterNode::forward_end(ConnectionId conn) {
  std::lock_guard lock(forwarded_mutex_);
  forwarded_.erase(conn.value);
  counters_.forwarded_open.store(forwarded_.size(), std::memory_order_relaxed);
}

// --- what peers send -----------------------------------------------------------------------

void ClusterNode::on_frame(const std::string& node, LinkFrame&& f) {
  auto peer_error = [&](const char* what) {
    counters_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    log_warning("cluster", what, {{"peer", node}, {"conn", std::to_string(f.conn)}});
  };
  switch (f.type) {
    case FrameType::open:
      return open_inbound(node, std::move(f));
    case FrameType::frame: {
      auto by = inbound_by_origin_.find(node);
      if (by == inbound_by_origin_.end()) return;
      auto it = by->second.find(f.conn);
      if (it == by->second.end()) return;  // closed or moved meanwhile: its sender resends
      Inbound& in = inbound_.at(it->second);
      in.sink->first_frame(f.num >> 1);
      gateway_->remote_message(*in.route, ConnectionId{it->second}, f.data, kind_of(f.num));
      return;
    }
    case FrameType::close: {
      auto by = inbound_by_origin_.find(node);
      if (by == inbound_by_origin_.end()) return;
      auto it = by->second.find(f.conn);
      if (it == by->second.end()) return;
      const std::uint64_t local = it->second;
      Gateway::Route* route = inbound_.at(local).route;
      by->second.erase(it);
      inbound_.erase(local);
      counters_.remote_open.store(inbound_.size(), std::memory_order_relaxed);
      gateway_->remote_close(*route, ConnectionId{local}, static_cast<std::uint16_t>(f.num),
                             f.text);
      return;
    }
    case FrameType::send: {
      counters_.casts_in.fetch_add(1, std::memory_order_relaxed);
      // Started here if need be, as for a connection; off this loop.
      rt_.spawn([this, name = std::move(f.text),
                 msg = Remote{node, std::move(f.data)}](Process& self) mutable -> Proc {
        Pid pid = self.runtime().registry().whereis(name);
        if (!pid) {
          auto found = co_await gateway_->find_session(self, name);
          if (!found.ok() || !found.value()) co_return;
          pid = found.value();
        }
        troupe::cast(self, pid, std::move(msg));
      });
      return;
    }
    case FrameType::call: {
      // Answered from a process of its own: the session may be started first.
      rt_.spawn([this, node, id = f.conn, name = std::move(f.text),
                 ask = Ask{node, std::move(f.data)}](Process& self) mutable -> Proc {
        LinkFrame answer{FrameType::reply, id, 0, {}, {}};
        Pid pid = self.runtime().registry().whereis(name);
        if (!pid) {
          auto found = co_await gateway_->find_session(self, name);
          if (found.ok())
            pid = found.value();
          else
            answer.text = "cannot start " + name + ": " + to_string(found.error());
        }
        if (pid) {
          auto r = co_await troupe::call(self, pid, std::move(ask));
          if (r.ok()) {
            answer.num = 1;
            answer.data = std::move(r.value());
          } else {
            answer.text = to_string(r.error());
          }
        }
        link_send(node, std::move(answer));
      });
      return;
    }
    case FrameType::reply: {
      std::optional<ReplyTo> to;
      {
        std::lock_guard lock(calls_mutex_);
        auto it = calls_.find(f.conn);
        if (it != calls_.end() && it->second.second == node) to = it->second.first;
      }
      if (!to) return;  // the caller gave up waiting (or another node answers)
      using Answer = Result<std::string, std::string>;
      rt_.reply(*to,
                f.num == 1 ? Answer(std::move(f.data)) : Answer(unexpected(std::move(f.text))));
      return;
    }
    case FrameType::out_frame:
    case FrameType::out_close:
    case FrameType::progress:
    case FrameType::refused:
      break;
    default:
      return peer_error("a peer sent a frame of no known use");
  }
  // About a connection this node forwarded to `node`: only that node may.
  const ConnectionId conn{f.conn};
  Forwarded forwarded;
  {
    std::lock_guard lock(forwarded_mutex_);
    auto it = forwarded_.find(f.conn);
    if (it == forwarded_.end()) return;  // closed here meanwhile
    if (it->second.node != node)
      return peer_error("a peer wrote to a connection it does not serve");
    forwarded = it->second;
  }
  switch (f.type) {
    case FrameType::out_frame:
      gateway_->server().send(conn, f.data, kind_of(f.num));
      break;
    case FrameType::out_close:
      gateway_->server().close(conn, close_code_from(f.num), f.text);
      break;
    case FrameType::progress: {
      // Never past what this node sent it.
      const std::uint64_t taken = forwarded.progress->taken.load(std::memory_order_acquire);
      forwarded.progress->handled.store(std::min(f.num, taken), std::memory_order_release);
      break;
    }
    default:  // refused: the name is not (or no longer) served there
      counters_.moved.fetch_add(1, std::memory_order_relaxed);
      rt_.send(forwarded.proxy, detail::OwnerLost{true, "node " + node + " sent it on: " + f.text});
      break;
  }
}

void ClusterNode::open_inbound(const std::string& node, LinkFrame&& f) {
  auto open = decode_open(f.data);
  if (!open) {
    counters_.peer_errors.fetch_add(1, std::memory_order_relaxed);
    log_warning("cluster", "a peer sent an open request that does not decode",
                {{"peer", node}, {"error", open.error()}});
    link_send(
        node,
        LinkFrame{
            FrameType::out_close, f.conn, close_code::internal_error, "bad open request", {}});
    return;
  }
  // The same connection opened again (its node re-attached it): the old one ends first.
  auto& by = inbound_by_origin_[node];
  if (auto old = by.find(f.conn); old != by.end()) {
    const std::uint64_t local = old->second;
    Gateway::Route* route = inbound_.at(local).route;
    by.erase(old);
    inbound_.erase(local);
    gateway_->remote_close(*route, ConnectionId{local}, close_code::going_away, "opened again");
  }
  const std::uint64_t local = ((next_inbound_++) << 8) | remote_connection_bit;
  auto sink = std::make_shared<detail::RemoteSink>(*this, node, f.conn);
  auto route =
      gateway_->open_remote(ConnectionId{local}, open.value().request, open.value().resumed,
                            std::move(open.value().interrupted), sink);
  if (!route) {
    link_send(node, LinkFrame{FrameType::out_close,
                              f.conn,
                              close_code::try_again_later,
                              route.error().substr(0, 120),
                              {}});
    return;
  }
  inbound_[local] = Inbound{node, f.conn, route.value(), std::move(sink)};
  by[f.conn] = local;
  counters_.remote_open.store(inbound_.size(), std::memory_order_relaxed);
}

void ClusterNode::close_remote(ConnectionId conn, std::uint16_t code, std::string_view reason) {
  auto it = inbound_.find(conn.value);
  if (it == inbound_.end()) return;
  const Inbound& in = it->second;
  if (code == 0) {
    // Not served here: its node finds the owner again (find_serving has
    // taken it out of the relay already).
    link_send(in.node, LinkFrame{FrameType::refused, in.origin, 0, std::string(reason), {}});
    inbound_by_origin_[in.node].erase(in.origin);
    inbound_.erase(it);
    counters_.remote_open.store(inbound_.size(), std::memory_order_relaxed);
    return;
  }
  // Its node closes the socket, then tells this one (close), which ends it here.
  link_send(in.node, LinkFrame{FrameType::out_close, in.origin, code, std::string(reason), {}});
}

void ClusterNode::on_link_down(const std::string& node, const std::string& why) {
  log_warning("cluster", "link down", {{"peer", node}, {"why", why}});
  // Connections forwarded here from that node: their socket is out of reach.
  if (auto by = inbound_by_origin_.find(node); by != inbound_by_origin_.end()) {
    auto locals = std::move(by->second);
    inbound_by_origin_.erase(by);
    for (auto& [origin, local] : locals) {
      Gateway::Route* route = inbound_.at(local).route;
      inbound_.erase(local);
      gateway_->remote_close(*route, ConnectionId{local}, close_code::abnormal,
                             "link to " + node + " lost");
    }
    counters_.remote_open.store(inbound_.size(), std::memory_order_relaxed);
  }
  // Connections this node forwarded there: their proxies find the owner again.
  std::vector<Pid> proxies;
  {
    std::lock_guard lock(forwarded_mutex_);
    for (auto& [conn, f] : forwarded_)
      if (f.node == node) proxies.push_back(f.proxy);
  }
  std::sort(proxies.begin(), proxies.end());
  proxies.erase(std::unique(proxies.begin(), proxies.end()), proxies.end());
  for (Pid p : proxies) {
    counters_.owners_lost.fetch_add(1, std::memory_order_relaxed);
    rt_.send(p, detail::OwnerLost{false, "link to " + node + " lost: " + why});
  }
}

}  // namespace troupe::cluster
