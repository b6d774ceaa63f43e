#include "cluster/detail/proxy.hpp"

#include <unordered_map>

#include "cluster/link/frame.hpp"
#include "cluster/node.hpp"
#include "cluster/request_codec.hpp"
#include "net/gateway/detail/session_loop.hpp"
#include "net/ws/utf8.hpp"
#include "runtime/receive.hpp"

namespace troupe::cluster::detail {

namespace {

struct Forwarding {
  troupe::detail::Progress progress;
  troupe::detail::PendingFrames* pending = nullptr;
};

std::uint64_t frame_num(std::uint64_t seq, MessageKind kind) {
  return (seq << 1) | (kind == MessageKind::binary ? 1u : 0u);
}

}  // namespace

Proc run_proxy(Process& self, ClusterNode* node, std::string name, std::string owner,
               std::uint64_t fence, Duration idle) {
  std::unordered_map<std::uint64_t, Forwarding> conns;
  // However the proxy ends, its connections stop being forwarded.
  struct Cleanup {
    ClusterNode* node;
    std::unordered_map<std::uint64_t, Forwarding>& conns;
    ~Cleanup() {
      for (auto& [id, f] : conns) node->forward_end(ConnectionId{id});
    }
  } cleanup{node, conns};
  for (;;) {
    std::optional<OwnerLost> lost;
    bool idle_out = false;
    co_await self.receive(
        [&](troupe::detail::SessionConnect& c) {
          if (lost) return;
          conns[c.conn.value] = Forwarding{c.progress, c.pending};
          node->forward_begin(c.conn, ClusterNode::Forwarded{self.self(), owner, c.progress});
          OpenRequest open{std::move(c.request), c.resumed, std::move(c.interrupted)};
          if (!node->link_send(
                  owner, LinkFrame{FrameType::open, c.conn.value, fence, name, encode_open(open)}))
            lost = OwnerLost{false, "the link to " + owner + " is down"};
        },
        [&](troupe::detail::SessionFrame& f) {
          auto it = conns.find(f.conn.value);
          if (lost || it == conns.end()) return;
          if (!node->link_send(
                  owner,
                  LinkFrame{
                      FrameType::frame, f.conn.value, frame_num(f.seq, f.kind), {}, *f.data})) {
            lost = OwnerLost{false, "the link to " + owner + " is down"};
            return;
          }
          // Taken as far as this node knows: the owner may have it.
          it->second.progress->taken.store(f.seq, std::memory_order_release);
          it->second.pending->fetch_sub(1, std::memory_order_relaxed);
        },
        [&](troupe::detail::SessionClose& c) {
          if (conns.erase(c.conn.value) == 0) return;
          node->forward_end(c.conn);
          node->link_send(owner, LinkFrame{FrameType::close, c.conn.value, c.code, c.reason, {}});
        },
        [&](OwnerLost& l) { lost = std::move(l); },
        after(conns.empty() ? idle : infinite_wait, [&] { idle_out = true; }));
    if (lost) {
      if (lost->moved) {
        // Nothing after `handled` was taken: the relay hands it to the next owner.
        for (auto& [id, f] : conns)
          f.progress->taken.store(f.progress->handled.load(std::memory_order_acquire),
                                  std::memory_order_release);
      }
      self.exit(ExitReason::error("owner of " + name + " lost: " + lost->why));
    }
    if (idle_out && conns.empty()) co_return;
  }
}

bool RemoteSink::send(ConnectionId, std::string_view data, MessageKind kind) {
  // As ws::Server::send: text that is not UTF-8 is refused here, not by the peer.
  if (kind == MessageKind::text && !is_valid_utf8(data)) return false;
  return node_.link_send(peer_, LinkFrame{FrameType::out_frame,
                                          origin_,
                                          kind == MessageKind::binary ? 1u : 0u,
                                          {},
                                          std::string(data)});
}

void RemoteSink::close(ConnectionId, std::uint16_t code, std::string_view reason) {
  node_.link_send(peer_, LinkFrame{FrameType::out_close, origin_, code, std::string(reason), {}});
}

void RemoteSink::handled(ConnectionId, std::uint64_t seq) {
  const std::uint64_t base = base_.load(std::memory_order_acquire);
  if (base == unset) return;
  node_.link_send(peer_, LinkFrame{FrameType::progress, origin_, base + seq, {}, {}});
}

}  // namespace troupe::cluster::detail
