#pragma once
// The two ends of a connection whose session lives on another node
// (docs/cluster.md, "Forwarding"):
// - on the node that holds the socket, a proxy process per loop and name
//   stands in for the session: the gateway's relay hands it the
//   connections and frames as it would a session, and it forwards them
//   over the link to the owner;
// - on the owner, a RemoteSink per connection sends what the session sends
//   (frames, a close, and how far it got) back over the link.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "net/gateway/connection.hpp"
#include "runtime/process.hpp"

namespace troupe::cluster {

class ClusterNode;

namespace detail {

// To a proxy: its owner is gone. `moved`: the owner said it took nothing
// more of its connections' frames (the name moved in order); else the
// frames it was sent are in doubt.
struct OwnerLost {
  bool moved = false;
  std::string why;
};

// The proxy's body: forwards to `owner` the connections of one loop to
// `name`; ends when the owner is lost, or after `idle` with no connection.
Proc run_proxy(Process& self, ClusterNode* node, std::string name, std::string owner,
               std::uint64_t fence, Duration idle);

class RemoteSink final : public troupe::detail::ConnectionSink {
 public:
  RemoteSink(ClusterNode& node, std::string peer, std::uint64_t origin)
      : node_(node), peer_(std::move(peer)), origin_(origin) {}
  bool send(ConnectionId id, std::string_view data, MessageKind kind) override;
  void close(ConnectionId id, std::uint16_t code, std::string_view reason) override;
  void handled(ConnectionId id, std::uint64_t seq) override;
  // The relay here numbers the connection's frames from 1; the node that
  // holds the socket numbers them its own way (they continue across
  // owners). The first frame forwarded here tells how the two line up, so
  // that progress is reported in the sender's numbers.
  void first_frame(std::uint64_t sender_seq) {
    if (base_.load(std::memory_order_relaxed) == unset)
      base_.store(sender_seq - 1, std::memory_order_release);
  }

 private:
  static constexpr std::uint64_t unset = ~std::uint64_t{0};
  std::atomic<std::uint64_t> base_{unset};
  ClusterNode& node_;
  std::string peer_;
  std::uint64_t origin_;  // the connection's id on `peer_`
};

}  // namespace detail
}  // namespace troupe::cluster
