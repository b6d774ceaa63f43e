#pragma once
// ClusterNode: this process as one node of a Troupe cluster (docs/cluster.md).
// Nodes share a Redis (the directory: leases and owners, cluster/directory.hpp)
// and talk over node-to-node links (cluster/link/link_hub.hpp). A session
// name lives on one node at a time: the one that claimed it, with a fencing
// token that every write of its state and alarm carries, so that a node
// that lost its lease (killed, paused, cut off) can no longer write.
//
//   troupe::cluster::ClusterNode node(rt, {.url = "redis://10.0.0.5:6379",
//                                          .node_id = "n1", .peer_port = 9001});
//   troupe::Gateway gateway(rt, {..., .persistence = &persistence, .placement = &node});
//   node.attach(gateway, persistence);
//   SupervisorSpec app{.strategy = rest_for_one,
//                      .children = {store.child_spec(), gateway.child_spec(), node.child_spec()}};
//
// The node's child comes after the gateway's: it joins once the gateway
// listens (its WebSocket port is part of what it announces), and when the
// tree stops, it stops first: it drains (no new sessions here; each session
// of this node stops in order, its state flushed, its name released, and
// the connections other nodes forwarded to it are sent to find the next
// owner, so their clients see no close), then leaves the cluster, then the
// gateway closes its own connections.
//
// Threads: the node's directory work runs on a scheduler of its own
// (Runtime::add_schedulers), so that lease renewals never wait behind
// sessions or sockets; its links run on the gateway's first I/O loop, where
// the connections forwarded to this node are relayed. Construct, attach
// and destroy from the thread that builds the application (e.g. main).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "cluster/directory.hpp"
#include "net/gateway/gateway.hpp"
#include "net/gateway/placement.hpp"
#include "persist/persistence.hpp"
#include "persist/store_connection.hpp"
#include "runtime/clock.hpp"
#include "runtime/runtime.hpp"
#include "supervisors/spec.hpp"

namespace troupe::cluster {

class LinkHub;
struct LinkFrame;
namespace detail {
class RemoteSink;
}

struct ClusterOptions {
  // The directory's Redis: redis://[:password@]host:port/db.
  std::string url;
  // This node's id: 1 to 64 bytes of [A-Za-z0-9_.-], unique in the cluster.
  std::string node_id;
  // Where peers reach this node's link, and where the link listens.
  std::string advertise_host = "127.0.0.1";
  std::string peer_bind = "127.0.0.1";
  std::uint16_t peer_port = 0;  // 0: any free port
  // The lease: renewed every `renew_every` (0: lease / 5). A node that has
  // not renewed within `lease - lease_margin` of sending its last successful
  // renewal stops its sessions by itself, before any other node may claim
  // them (the lease in Redis runs from when Redis got the renewal, later).
  std::chrono::milliseconds lease{1500};
  std::chrono::milliseconds renew_every{0};
  std::chrono::milliseconds lease_margin{0};  // 0: lease / 5
  // The cluster's name: links between nodes of different clusters fail.
  std::string cluster = "troupe";
  std::string key_prefix = "troupe:cluster:";
  // The key of a name's fence in the state store: fence_prefix + name.
  std::string fence_prefix = "fence/";
  // Serve GET /cluster/fault (renewals=drop|resume), for chaos tests.
  bool test_faults = false;
};

// A message to a session by name from any node (ClusterNode::cast): the
// session takes it in handle_cast(const cluster::Remote&), with
// `using casts = troupe::types<troupe::cluster::Remote>` (session.hpp).
struct Remote {
  std::string from;     // the sending node's id
  std::string payload;  // the application's bytes
};

// A call by name from any node (ClusterNode::call): the session answers it
// in handle_call(const cluster::Ask&) -> std::string, with
// `using calls = troupe::types<troupe::cluster::Ask>`.
struct Ask {
  using reply = std::string;
  std::string from;
  std::string payload;
};

// Counters for /metrics (troupe_cluster_*).
struct ClusterCounters {
  std::atomic<std::uint64_t> claims{0};
  std::atomic<std::uint64_t> claims_lost{0};  // another node held the name
  std::atomic<std::uint64_t> releases{0};
  std::atomic<std::uint64_t> leases_lost{0};
  std::atomic<std::uint64_t> joins{0};
  std::atomic<std::uint64_t> forwarded_open{0};  // connections here whose owner is elsewhere
  std::atomic<std::uint64_t> remote_open{0};     // connections elsewhere whose owner is here
  std::atomic<std::uint64_t> owners_lost{0};     // proxies whose owner was lost
  std::atomic<std::uint64_t> moved{0};           // proxies sent to find the owner again
  std::atomic<std::uint64_t> peer_errors{0};     // frames a peer should not have sent
  std::atomic<std::uint64_t> casts_out{0};       // Remote messages sent to other nodes
  std::atomic<std::uint64_t> casts_in{0};        // ... received from them
  std::atomic<std::uint64_t> directory_errors{0};
};

class ClusterNode final : public SessionPlacement {
 public:
  ClusterNode(Runtime& rt, ClusterOptions options);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Before the tree starts: the gateway whose sessions this node places
  // (made with GatewayOptions::placement = this) and the persistence they
  // write to (where names' fences are raised). Adds GET /cluster/owner and
  // /cluster/nodes to the gateway.
  void attach(Gateway& gateway, Persistence& persistence);
  // The same for the persistence of a StoreConnection, whose store must be
  // one that every node shares (Redis): a FileStore is one machine's, so
  // this throws std::invalid_argument naming it.
  void attach(Gateway& gateway, StoreConnection& store);
  // The node as a child of the application's supervisor (see the top).
  // Its start fails, naming the cause, if Redis cannot be reached or the
  // link cannot listen.
  ChildSpec child_spec(std::string id = "cluster");

  const std::string& id() const { return options_.node_id; }
  const ClusterCounters& counters() const { return counters_; }
  // Thread-safe: the live nodes as last seen.
  std::vector<NodeInfo> members() const;
  // Sends `payload` to the session `name` ("rooms/lobby") wherever it
  // lives, starting it (here, if nobody owns it) as a connection would.
  // ok: handed to the owner's node (over the link, or to the local
  // session); noproc: it cannot be placed now (no route serves it, or its
  // owner stays out of reach for the route's restart_wait). At most once:
  // a message in flight when the owner dies is lost. From a process.
  Task<SendResult> cast(Process& self, std::string name, std::string payload);
  // Calls the session `name` wherever it lives (placed as for cast) and
  // waits for its answer, or an error: it cannot be placed, the session
  // failed the call, or no answer within `timeout` (the owner may have died
  // with it: the call may or may not have been handled).
  Task<Result<std::string, std::string>> call(Process& self, std::string name, std::string payload,
                                              Duration timeout = std::chrono::seconds(5));

  // Blocks for one directory lookup (bounded): who owns `name` now.
  StoreResult<std::optional<Owner>> owner_of(const std::string& name);

  // SessionPlacement (net/gateway/placement.hpp).
  Task<Location> locate(Process& self, const std::string& name) override;
  Task<Claim> claim(Process& self, const std::string& name) override;
  void ended(const std::string& name, std::uint64_t fence, bool clean) override;
  Pid open_proxy(Runtime& rt, const std::string& name, const Location& where,
                 int scheduler) override;
  void close_remote(ConnectionId conn, std::uint16_t code, std::string_view reason) override;
  void write_metrics(std::ostream& out) const override;

  // For the proxies (proxy.cpp), any thread.
  struct Forwarded {
    Pid proxy;
    std::string node;
    std::shared_ptr<troupe::detail::FrameProgress> progress;
  };
  bool link_send(const std::string& node, LinkFrame frame);
  void forward_begin(ConnectionId conn, Forwarded f);
  void forward_end(ConnectionId conn);

 private:
  struct Inbound {  // a connection forwarded here: its socket is on `node`
    std::string node;
    std::uint64_t origin = 0;  // its id there
    Gateway::Route* route = nullptr;
    std::shared_ptr<detail::RemoteSink> sink;
  };

  // Where `name` can be reached now: its local process (started here if
  // nobody owns it), or the node that owns it; else why not, by `deadline`.
  struct Placed {
    Pid local;
    std::string node;
    std::uint64_t fence = 0;
    std::string error;
  };
  Task<Placed> place(Process& self, const std::string& name, SteadyTime deadline);
  Proc run(Process& self, InitAck ack);
  Task<bool> join(Process& self);
  Task<> keep_lease(Process& self, Pid parent);
  Task<> refresh_members(Process& self);
  Task<> drain(Process& self);
  Task<> close_parts(Process& self);
  Task<> fail(Process& self, ExitReason why);
  void lease_lost(const std::string& why);
  template <class T, class Op>
  Task<StoreResult<T>> on_directory(Process& self, Op op,
                                    Duration timeout = std::chrono::seconds(5));

  // On the link loop.
  Task<std::error_code> start_links(Process& self);
  void on_frame(const std::string& node, LinkFrame&& frame);
  void on_link_down(const std::string& node, const std::string& why);
  void open_inbound(const std::string& node, LinkFrame&& frame);
  void close_inbound(std::uint64_t local, std::uint16_t code, std::string_view reason);
  bool forwarded_to(ConnectionId conn, const std::string& node);

  HttpResponse owner_response(const HttpRequest& request);
  HttpResponse nodes_response();
  HttpResponse fault_response(const HttpRequest& request);

  Runtime& rt_;
  ClusterOptions options_;
  Gateway* gateway_ = nullptr;
  Persistence* persistence_ = nullptr;
  unsigned directory_scheduler_ = 0;
  unsigned link_scheduler_ = 0;
  ClusterCounters counters_;

  // The directory's scheduler only.
  std::unique_ptr<Directory> directory_;
  std::uint64_t incarnation_ = 0;
  SteadyTime lease_until_{};  // this node's own deadline
  bool in_cluster_ = false;
  std::unordered_map<std::string, std::uint64_t> claims_;  // names claimed here, their fence

  std::atomic<bool> draining_{false};
  std::atomic<bool> drop_renewals_{false};  // test_faults
  std::atomic<bool> refresh_members_now_{false};
  std::atomic<std::size_t> owned_{0};

  mutable std::mutex members_mutex_;
  std::map<std::string, NodeInfo> members_;

  // The link loop only.
  std::unique_ptr<LinkHub> hub_;
  std::unordered_map<std::uint64_t, Inbound> inbound_;  // by local id
  std::unordered_map<std::string, std::unordered_map<std::uint64_t, std::uint64_t>>
      inbound_by_origin_;  // node → its id → local id
  std::uint64_t next_inbound_ = 1;
  std::atomic<LinkHub*> hub_ready_{nullptr};  // set once the links listen

  // Calls sent to other nodes and waiting for their reply, by id.
  std::mutex calls_mutex_;
  std::unordered_map<std::uint64_t, std::pair<ReplyTo, std::string>> calls_;  // and its node
  std::atomic<std::uint64_t> next_call_{1};

  mutable std::mutex forwarded_mutex_;
  std::unordered_map<std::uint64_t, Forwarded> forwarded_;  // by this node's connection id
};

}  // namespace troupe::cluster
