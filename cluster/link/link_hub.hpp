#pragma once
// LinkHub: all of one node's links to its peers, long-lived TCP connections
// carrying LinkFrames (cluster/link/frame.hpp), on one libuv loop.
//
//   LinkHub hub(loop, {.node_id = "n1", .incarnation = 7}, hooks);
//   hub.listen("127.0.0.1", 7001);
//   hub.connect("n2", "127.0.0.1", 7002);     // keep a link to n2
//   hub.send("n2", {FrameType::open, conn, 0, "chat/lobby", ""});  // any thread
//
// A link is ready once both ends have said hello: the connecting end sends
// its hello ([protocol version, cluster name] in data, its node id in text,
// its incarnation in num); the accepting end checks it (cluster and version
// equal, accept_peer, not itself, the rules for a second link below) and
// answers with its own hello, or closes the connection. Anything but a hello
// first closes it. Ready links carry every frame type but hello; ping and
// pong are the link's own (a ping every `heartbeat` when nothing else was
// written; any byte received counts as life).
//
// One link per pair of nodes. When a link to a node arrives while another
// exists (both nodes connected at once, or a peer reconnected before this
// end saw its old link die):
//   - an older incarnation than the existing link's is refused;
//   - a newer incarnation replaces it (on_down for the old, on_up for the new);
//   - same incarnation (or the existing one is still saying hello): if both
//     were opened by the peer, the new one replaces the old (the peer gave
//     the old one up); if one was opened by each node, the one opened by the
//     node whose id sorts lower survives, on both ends, so that frames
//     between a pair always travel over one connection, in order.
//
// A link closes when: the peer closes it or a socket error; no byte arrives
// for `dead_after` ("silent for ..."); a frame fails to decode or breaks the
// protocol (named in on_down, counted in frames_malformed_total; other links
// go on); forget(); close(). Frames still queued for a closed link are
// dropped: send() said true only for "queued", never "delivered".
// A node given to connect() is reconnected with `reconnect` backoff for as
// long as it is wanted and has no ready link (by either end's connect).
//
// Threads: the hub's handles live on the loop given at construction, and
// every hook runs on that loop's thread. send(), queued_bytes(), ready() and
// counters() may be called from any thread; every other member only on the
// loop's thread. Hooks may call any member but close() and the destructor.
// SIGPIPE: the first hub sets it to ignored if it is at its default (a peer
// closing mid-write must not kill the process; libwebsockets does the same).
// Lifetime: call close() and wait for its callback before destroying the hub
// (and before closing the loop).

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "cluster/link/frame.hpp"
#include "runtime/backoff.hpp"
#include "runtime/export.hpp"

namespace troupe::cluster {

// The version this build speaks in hello; a peer with another is refused.
inline constexpr std::uint32_t link_protocol_version = 1;

struct LinkHubOptions {
  std::string cluster = "troupe";  // a peer's hello must name the same cluster
  std::string node_id;             // this node; must not be empty
  std::uint64_t incarnation = 0;   // this run of the node
  Duration heartbeat = std::chrono::milliseconds(250);
  Duration dead_after = std::chrono::seconds(1);
  std::size_t high_water_bytes = 4 * 1024 * 1024;
  std::size_t low_water_bytes = 1024 * 1024;
  std::size_t max_frame_bytes = default_max_frame_bytes;
  Backoff reconnect{
      .base = std::chrono::milliseconds(50), .cap = std::chrono::seconds(1), .jitter = 1.0};
};

struct LinkHubHooks {
  // A hello from `node` at `incarnation` (already checked for cluster and
  // version). False: the link is closed, logged and counted. Unset: accept all.
  std::function<bool(const std::string& node, std::uint64_t incarnation)> accept_peer;
  // A link to `node` is ready: send() to it succeeds from now on.
  std::function<void(const std::string& node, std::uint64_t incarnation)> on_up;
  // The ready link to `node` is gone (`why` names the cause); follows on_up
  // exactly once. A replaced link's on_down comes before its successor's on_up.
  std::function<void(const std::string& node, const std::string& why)> on_down;
  // Every frame but hello, ping and pong, in the order the peer sent them.
  std::function<void(const std::string& node, LinkFrame&&)> on_frame;
  // The bytes queued to `node` reached high_water_bytes (true), then fell to
  // low_water_bytes or the link went down (false). Alternates, starting with true.
  std::function<void(const std::string& node, bool congested)> on_pressure;
};

struct LinkCounters {
  std::atomic<std::uint64_t> links_up{0};  // ready links now
  std::atomic<std::uint64_t> links_rejected_total{0};
  std::atomic<std::uint64_t> frames_malformed_total{0};
  std::atomic<std::uint64_t> frames_sent_total{0};  // handed to the socket
  std::atomic<std::uint64_t> frames_received_total{0};
  std::atomic<std::uint64_t> bytes_sent_total{0};
  std::atomic<std::uint64_t> bytes_received_total{0};
  std::atomic<std::uint64_t> reconnects_total{0};  // connection attempts after the first
};

namespace detail {
struct Link;
struct Outbox;
struct Wanted;
}  // namespace detail

class TROUPE_EXPORT LinkHub {
 public:
  // Throws std::invalid_argument for an empty node_id, a zero heartbeat or
  // dead_after, or low_water_bytes above high_water_bytes.
  LinkHub(uv_loop_t* loop, LinkHubOptions options, LinkHubHooks hooks);
  ~LinkHub();
  LinkHub(const LinkHub&) = delete;
  LinkHub& operator=(const LinkHub&) = delete;

  // Accepts peers on host:port (port 0: any free one, see port()). host is a
  // numeric IPv4 or IPv6 address. Once per hub.
  std::error_code listen(const std::string& host, std::uint16_t port);
  // The port listened on; 0 before listen().
  std::uint16_t port() const { return port_; }

  // Keeps a link to `node` at host:port: connects now unless a link to it is
  // ready, and again with backoff after every failure or loss until
  // forget(). host is a numeric IPv4/IPv6 address or a name, resolved
  // (uv_getaddrinfo, IPv4 preferred) before each attempt. A second call
  // updates the address. Throws std::invalid_argument for an empty host or
  // node, or this node's own id.
  void connect(const std::string& node, const std::string& host, std::uint16_t port);
  // Stops wanting `node` and closes any link to it (on_down "forgotten").
  void forget(const std::string& node);

  // Any thread. Queues `frame` for the ready link to `node`; false, and
  // nothing queued, if there is none now. Frames to one node are written in
  // the order of their send() calls. Never refused for pressure: the queue
  // grows until the caller pauses on on_pressure(true). Throws
  // std::length_error for a frame over max_frame_bytes (the peer would
  // refuse it).
  bool send(const std::string& node, LinkFrame frame);
  // Any thread. Bytes queued to `node` and not yet taken by the socket.
  std::size_t queued_bytes(const std::string& node) const;
  // Any thread. Whether a link to `node` is ready.
  bool ready(const std::string& node) const;

  // Closes every link (on_down "hub closing" for the ready ones) and handle,
  // then calls done on the loop thread. Later send()s return false.
  void close(std::function<void()> done);

  const LinkCounters& counters() const { return counters_; }
  const LinkHubOptions& options() const { return options_; }

 private:
  friend struct detail::Link;

  void on_accept(int status);
  void start_link(detail::Link* link);
  static bool busy(const detail::Wanted& w);
  void start_attempt(const std::string& node);
  void resolve(const std::string& node);
  void on_resolved(const std::string& node, std::uint64_t serial, int status, addrinfo* res);
  void connect_to(const std::string& node);
  void on_connected(detail::Link* link, int status);
  void on_read(detail::Link* link, ssize_t nread, const uv_buf_t* buf);
  bool on_link_frame(detail::Link* link, LinkFrame&& frame);
  bool on_hello(detail::Link* link, LinkFrame&& frame);
  bool settle_duplicate(detail::Link* link);
  void make_ready(detail::Link* link);
  void drop(detail::Link* link, const std::string& why, bool malformed = false,
            bool replaced = false);
  void write_internal(detail::Link* link, const LinkFrame& frame);
  void flush(detail::Link* link);
  void on_write_done(detail::Link* link, int status);
  void check_pressure(detail::Link* link);
  void on_tick();
  void schedule_reconnect(const std::string& node);
  void arm_reconnect_timer();
  void on_reconnect_timer();
  void on_wake();
  void handle_closed();
  void reject(detail::Link* link, const std::string& why);

  uv_loop_t* loop_;
  LinkHubOptions options_;
  LinkHubHooks hooks_;
  LinkCounters counters_;
  std::uint16_t port_ = 0;

  // Loop thread only.
  uv_tcp_t* listener_ = nullptr;
  uv_timer_t* tick_ = nullptr;
  uv_timer_t* reconnect_timer_ = nullptr;
  uv_async_t* wake_ = nullptr;
  std::unordered_map<detail::Link*, std::unique_ptr<detail::Link>> links_;
  std::map<std::string, detail::Link*> ready_;  // node → its one ready link
  std::map<std::string, std::unique_ptr<detail::Wanted>> wanted_;
  std::unordered_set<uv_getaddrinfo_t*> resolves_;  // running, for close() to cancel
  std::uint64_t next_serial_ = 0;
  std::uint64_t last_tick_ms_ = 0;
  std::size_t open_handles_ = 0;
  bool closing_ = false;
  std::function<void()> close_done_;

  // Any thread: the outboxes of ready links, for send().
  mutable std::mutex outboxes_mutex_;
  std::unordered_map<std::string, std::shared_ptr<detail::Outbox>> outboxes_;
};

}  // namespace troupe::cluster
