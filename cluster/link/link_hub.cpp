#include "cluster/link/link_hub.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <msgpack.hpp>
#include <stdexcept>
#include <vector>

#include "persist/snapshot_codec.hpp"
#include "runtime/log.hpp"

namespace troupe::cluster {

namespace detail {

// What send() queues for one ready link; shared with the sending threads.
struct Outbox {
  std::mutex mutex;
  std::string pending;  // encoded frames not yet handed to the socket
  std::uint64_t pending_frames = 0;
  bool open = false;                   // send() may queue (the link is ready)
  std::atomic<std::size_t> queued{0};  // pending + the write in flight
  bool congested = false;              // loop thread: on_pressure(true) was the last call
};

enum class LinkState { connecting, hello, ready, closing };

struct Link {
  Link(LinkHub* h, bool out, std::size_t max_frame_bytes)
      : hub(h), outbound(out), decoder(max_frame_bytes) {}

  LinkHub* hub;
  const bool outbound;  // this node opened it
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  LinkState state = LinkState::connecting;
  std::string node;  // the peer: known from the start when outbound, from its hello when inbound
  std::uint64_t incarnation = 0;
  std::string address;  // the peer's host:port, for logs
  FrameDecoder decoder;
  std::unique_ptr<char[]> read_buffer;
  std::shared_ptr<Outbox> outbox = std::make_shared<Outbox>();
  std::string writing;  // the bytes of the write in flight (from write_offset)
  std::size_t write_offset = 0;
  bool write_busy = false;
  std::uint64_t started_ms = 0, last_read_ms = 0, last_write_ms = 0;
};

// A node given to connect().
struct Wanted {
  explicit Wanted(Backoff b) : backoff(b) {}
  std::string host;
  std::uint16_t port = 0;
  sockaddr_storage addr{};
  BackoffCounter backoff;
  Link* attempt = nullptr;            // the outbound link not yet ready
  bool numeric = false;               // addr holds host:port; else resolve host first
  bool resolving = false;             // a uv_getaddrinfo for it is running
  std::uint64_t serial = 0;           // tells a late resolution of a forgotten Wanted apart
  std::uint64_t next_attempt_ms = 0;  // 0: none scheduled
  bool tried = false;
};

}  // namespace detail

using detail::Link;
using detail::LinkState;
using detail::Outbox;
using detail::Wanted;

namespace {

constexpr std::string_view component = "cluster.link";
constexpr std::size_t read_buffer_bytes = 64 * 1024;

std::uint64_t to_ms(Duration d) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

std::string hello_data(const std::string& cluster) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_array(2);
  pk.pack_uint32(link_protocol_version);
  pk.pack(cluster);
  return std::string(buffer.data(), buffer.size());
}

// [version, cluster] from a hello's data; false with why when it is not that.
bool parse_hello_data(const std::string& data, std::uint64_t& version, std::string& cluster,
                      std::string& why) {
  try {
    std::size_t used = 0;
    auto handle = msgpack::unpack(data.data(), data.size(), used, nullptr, nullptr,
                                  troupe::detail::unpack_limit_for(data.size()));
    const msgpack::object& o = handle.get();
    if (used != data.size() || o.type != msgpack::type::ARRAY || o.via.array.size != 2 ||
        o.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER ||
        o.via.array.ptr[1].type != msgpack::type::STR) {
      why = "the hello's data is not [version, cluster]";
      return false;
    }
    version = o.via.array.ptr[0].via.u64;
    cluster.assign(o.via.array.ptr[1].via.str.ptr, o.via.array.ptr[1].via.str.size);
    return true;
  } catch (const std::exception& e) {
    why = std::string("the hello's data is not msgpack: ") + e.what();
    return false;
  }
}

bool parse_address(const std::string& host, std::uint16_t port, sockaddr_storage& out) {
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

// A uv_getaddrinfo of a wanted node's host.
struct Resolve {
  uv_getaddrinfo_t req{};
  LinkHub* hub = nullptr;
  std::string node;
  std::uint64_t serial = 0;
};

std::string peer_address(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char ip[64] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  }
  return std::string(ip) + ":" + std::to_string(port);
}

template <class H>
uv_handle_t* as_handle(H* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

// libuv writes with write(2): a peer that closes while bytes are on their
// way would raise SIGPIPE, whose default kills the process. Ignored if it is
// still at its default (an application's own handler stays), as
// libwebsockets does; the write then fails with EPIPE and drops the link.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

}  // namespace

LinkHub::LinkHub(uv_loop_t* loop, LinkHubOptions options, LinkHubHooks hooks)
    : loop_(loop), options_(std::move(options)), hooks_(std::move(hooks)) {
  if (options_.node_id.empty()) throw std::invalid_argument("LinkHub: node_id is empty");
  if (options_.heartbeat <= Duration::zero() || options_.dead_after <= Duration::zero())
    throw std::invalid_argument("LinkHub: heartbeat and dead_after must be positive");
  if (options_.low_water_bytes > options_.high_water_bytes)
    throw std::invalid_argument("LinkHub: low_water_bytes is above high_water_bytes");
  ignore_sigpipe();

  wake_ = new uv_async_t;
  uv_async_init(loop_, wake_, [](uv_async_t* a) { static_cast<LinkHub*>(a->data)->on_wake(); });
  wake_->data = this;
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  reconnect_timer_ = new uv_timer_t;
  uv_timer_init(loop_, reconnect_timer_);
  reconnect_timer_->data = this;
  open_handles_ = 3;

  // Checks a few times per heartbeat and per dead_after, so that a silent
  // peer is seen within about a quarter of either of them.
  const std::uint64_t tick_ms = std::max<std::uint64_t>(
      1, std::min(to_ms(options_.heartbeat), to_ms(options_.dead_after)) / 4);
  last_tick_ms_ = uv_now(loop_);
  uv_timer_start(
      tick_, [](uv_timer_t* t) { static_cast<LinkHub*>(t->data)->on_tick(); }, tick_ms, tick_ms);
}

LinkHub::~LinkHub() {
  if (open_handles_ != 0) {
    std::fprintf(stderr, "LinkHub destroyed before close() completed: its uv handles are live\n");
    std::abort();
  }
}

std::error_code LinkHub::listen(const std::string& host, std::uint16_t port) {
  if (listener_ || closing_) return std::make_error_code(std::errc::operation_not_permitted);
  sockaddr_storage addr{};
  if (!parse_address(host, port, addr)) return std::make_error_code(std::errc::invalid_argument);
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(loop_, tcp);
  tcp->data = this;
  listener_ = tcp;
  ++open_handles_;
  int rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 128, [](uv_stream_t* s, int status) {
      static_cast<LinkHub*>(s->data)->on_accept(status);
    });
  }
  if (rc != 0) {
    uv_close(as_handle(tcp), [](uv_handle_t* h) {
      auto* hub = static_cast<LinkHub*>(h->data);
      delete reinterpret_cast<uv_tcp_t*>(h);
      hub->handle_closed();
    });
    listener_ = nullptr;
    log_warning(component, "cannot listen",
                {{"address", host + ":" + std::to_string(port)}, {"error", uv_strerror(rc)}});
    return std::error_code(-rc, std::system_category());
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  log_info(component, "listening",
           {{"node", options_.node_id}, {"address", host + ":" + std::to_string(port_)}});
  return {};
}

void LinkHub::on_accept(int status) {
  if (status < 0 || closing_) return;
  auto owned = std::make_unique<Link>(this, false, options_.max_frame_bytes);
  Link* link = owned.get();
  uv_tcp_init(loop_, &link->tcp);
  link->tcp.data = link;
  links_.emplace(link, std::move(owned));
  ++open_handles_;
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                reinterpret_cast<uv_stream_t*>(&link->tcp)) != 0) {
    drop(link, "accept failed");
    return;
  }
  link->address = peer_address(&link->tcp);
  start_link(link);
}

void LinkHub::start_link(Link* link) {
  link->state = LinkState::hello;
  link->started_ms = link->last_read_ms = link->last_write_ms = uv_now(loop_);
  link->read_buffer = std::make_unique<char[]>(read_buffer_bytes);
  uv_tcp_nodelay(&link->tcp, 1);
  int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&link->tcp),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* l = static_cast<Link*>(h->data);
        *buf = uv_buf_init(l->read_buffer.get(), read_buffer_bytes);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* l = static_cast<Link*>(s->data);
        l->hub->on_read(l, nread, buf);
      });
  if (rc != 0) {
    drop(link, std::string("cannot read: ") + uv_strerror(rc));
    return;
  }
  // The opening end speaks first; the other answers once it accepts.
  if (link->outbound)
    write_internal(link, {FrameType::hello, 0, options_.incarnation, options_.node_id,
                          hello_data(options_.cluster)});
}

void LinkHub::connect(const std::string& node, const std::string& host, std::uint16_t port) {
  if (closing_) return;
  if (node.empty() || node == options_.node_id)
    throw std::invalid_argument("LinkHub::connect: a peer's node id must be non-empty and not '" +
                                options_.node_id + "'");
  if (host.empty())
    throw std::invalid_argument("LinkHub::connect: the host of '" + node + "' is empty");
  auto& w = wanted_[node];
  if (!w) {
    w = std::make_unique<Wanted>(options_.reconnect);
    w->serial = ++next_serial_;
  }
  w->host = host;
  w->port = port;
  w->numeric = parse_address(host, port, w->addr);
  if (!ready_.count(node) && !busy(*w) && w->next_attempt_ms == 0) start_attempt(node);
}

void LinkHub::forget(const std::string& node) {
  auto it = wanted_.find(node);
  if (it != wanted_.end()) {
    Link* attempt = it->second->attempt;
    wanted_.erase(it);
    if (attempt) drop(attempt, "forgotten");
  }
  if (auto r = ready_.find(node); r != ready_.end()) drop(r->second, "forgotten");
}

bool LinkHub::busy(const Wanted& w) {
  return w.attempt != nullptr || w.resolving;
}

void LinkHub::start_attempt(const std::string& node) {
  Wanted& w = *wanted_.at(node);
  if (w.tried) counters_.reconnects_total.fetch_add(1, std::memory_order_relaxed);
  w.tried = true;
  if (!w.numeric) {
    resolve(node);
    return;
  }
  connect_to(node);
}

// A host name: resolved on libuv's thread pool before each attempt (so that
// a peer that moved is found again), preferring an IPv4 address.
void LinkHub::resolve(const std::string& node) {
  Wanted& w = *wanted_.at(node);
  auto* r = new Resolve;
  r->hub = this;
  r->node = node;
  r->serial = w.serial;
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(w.port);
  int rc = uv_getaddrinfo(
      loop_, &r->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        std::unique_ptr<Resolve> r(static_cast<Resolve*>(req->data));
        r->hub->resolves_.erase(req);
        r->hub->on_resolved(r->node, r->serial, status, res);
        uv_freeaddrinfo(res);
        r->hub->handle_closed();
      },
      w.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    delete r;
    log_warning(
        component, "cannot resolve a peer's host",
        {{"node", options_.node_id}, {"peer", node}, {"host", w.host}, {"error", uv_strerror(rc)}});
    schedule_reconnect(node);
    return;
  }
  ++open_handles_;  // close() waits for the resolution's callback
  w.resolving = true;
  resolves_.insert(&r->req);
}

void LinkHub::on_resolved(const std::string& node, std::uint64_t serial, int status,
                          addrinfo* res) {
  if (closing_) return;
  auto it = wanted_.find(node);
  if (it == wanted_.end() || it->second->serial != serial) return;  // forgotten meanwhile
  Wanted& w = *it->second;
  w.resolving = false;
  const addrinfo* pick = nullptr;
  for (const addrinfo* a = status == 0 ? res : nullptr; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
    if (a->ai_family == AF_INET6 && !pick) pick = a;
  }
  if (!pick) {
    log_warning(component, "cannot resolve a peer's host",
                {{"node", options_.node_id},
                 {"peer", node},
                 {"host", w.host},
                 {"error", status != 0 ? uv_strerror(status) : "no IPv4 or IPv6 address"}});
    if (!ready_.count(node)) schedule_reconnect(node);
    return;
  }
  std::memcpy(&w.addr, pick->ai_addr, pick->ai_addrlen);
  if (!ready_.count(node)) connect_to(node);
}

void LinkHub::connect_to(const std::string& node) {
  Wanted& w = *wanted_.at(node);
  auto owned = std::make_unique<Link>(this, true, options_.max_frame_bytes);
  Link* link = owned.get();
  link->node = node;
  link->address = w.host + ":" + std::to_string(w.port);
  link->started_ms = link->last_read_ms = uv_now(loop_);
  uv_tcp_init(loop_, &link->tcp);
  link->tcp.data = link;
  link->connect_req.data = link;
  links_.emplace(link, std::move(owned));
  ++open_handles_;
  w.attempt = link;
  int rc = uv_tcp_connect(&link->connect_req, &link->tcp, reinterpret_cast<sockaddr*>(&w.addr),
                          [](uv_connect_t* req, int status) {
                            auto* l = static_cast<Link*>(req->data);
                            l->hub->on_connected(l, status);
                          });
  if (rc != 0) drop(link, "connect to " + link->address + ": " + uv_strerror(rc));
}

void LinkHub::on_connected(Link* link, int status) {
  if (link->state == LinkState::closing) return;  // cancelled by uv_close
  if (status < 0) {
    drop(link, "connect to " + link->address + ": " + uv_strerror(status));
    return;
  }
  start_link(link);
}

void LinkHub::on_read(Link* link, ssize_t nread, const uv_buf_t* buf) {
  if (link->state == LinkState::closing) return;
  if (nread < 0) {
    drop(link, nread == UV_EOF ? std::string("closed by the peer")
                               : std::string("read: ") + uv_strerror(static_cast<int>(nread)));
    return;
  }
  if (nread == 0) return;
  counters_.bytes_received_total.fetch_add(static_cast<std::uint64_t>(nread),
                                           std::memory_order_relaxed);
  link->last_read_ms = uv_now(loop_);
  const bool ok = link->decoder.feed(
      std::string_view(buf->base, static_cast<std::size_t>(nread)),
      [this, link](LinkFrame&& frame) { return on_link_frame(link, std::move(frame)); });
  if (!ok && link->decoder.failed() && link->state != LinkState::closing) {
    drop(link,
         std::string(link->state == LinkState::hello ? "malformed frame before hello: "
                                                     : "malformed frame: ") +
             link->decoder.error(),
         true);
  }
}

bool LinkHub::on_link_frame(Link* link, LinkFrame&& frame) {
  counters_.frames_received_total.fetch_add(1, std::memory_order_relaxed);
  if (link->state == LinkState::hello) {
    if (frame.type != FrameType::hello) {
      drop(link, std::string("expected hello, got ") + to_string(frame.type), true);
      return false;
    }
    return on_hello(link, std::move(frame));
  }
  if (link->state != LinkState::ready) return false;
  switch (frame.type) {
    case FrameType::hello:
      drop(link, "hello after the handshake", true);
      return false;
    case FrameType::ping:
      write_internal(link, {FrameType::pong, 0, 0, {}, {}});
      break;
    case FrameType::pong:
      break;
    default:
      if (hooks_.on_frame) hooks_.on_frame(link->node, std::move(frame));
      break;
  }
  return link->state == LinkState::ready;
}

void LinkHub::reject(Link* link, const std::string& why) {
  counters_.links_rejected_total.fetch_add(1, std::memory_order_relaxed);
  log_warning(
      component, "peer refused",
      {{"node", options_.node_id}, {"peer", link->node}, {"address", link->address}, {"why", why}});
  drop(link, why);
}

bool LinkHub::on_hello(Link* link, LinkFrame&& hello) {
  std::uint64_t version = 0;
  std::string cluster, why;
  if (!parse_hello_data(hello.data, version, cluster, why)) {
    reject(link, why);
    return false;
  }
  if (cluster != options_.cluster) {
    reject(link, "hello from cluster '" + cluster + "', this is '" + options_.cluster + "'");
    return false;
  }
  if (version != link_protocol_version) {
    reject(link, "hello with protocol version " + std::to_string(version) + ", this build speaks " +
                     std::to_string(link_protocol_version));
    return false;
  }
  if (hello.text.empty()) {
    reject(link, "hello with an empty node id");
    return false;
  }
  if (hello.text == options_.node_id) {
    reject(link, "hello with this node's own id '" + hello.text + "'");
    return false;
  }
  if (link->outbound && hello.text != link->node) {
    reject(link, "expected node '" + link->node + "' at " + link->address + ", it says '" +
                     hello.text + "'");
    return false;
  }
  link->node = hello.text;
  link->incarnation = hello.num;
  if (hooks_.accept_peer && !hooks_.accept_peer(link->node, link->incarnation)) {
    reject(link, "node '" + link->node + "' incarnation " + std::to_string(link->incarnation) +
                     " refused by accept_peer");
    return false;
  }
  if (link->state != LinkState::hello || !settle_duplicate(link)) return false;
  if (!link->outbound) {
    write_internal(link, {FrameType::hello, 0, options_.incarnation, options_.node_id,
                          hello_data(options_.cluster)});
    if (link->state != LinkState::hello) return false;
  }
  make_ready(link);
  return link->state == LinkState::ready;
}

// Decides between `link` (hello just received) and the other links to the
// same node; false if `link` loses (it is then closed). The rules are in
// link_hub.hpp; both ends reach the same decision. Losing a race between two
// good links is not a refusal: logged at debug, not counted.
bool LinkHub::settle_duplicate(Link* link) {
  const std::string& node = link->node;
  const std::string& me = options_.node_id;
  auto opener = [&](Link* l) -> const std::string& {
    return l->outbound ? me : node;
  };
  std::vector<Link*> losers;

  if (auto r = ready_.find(node); r != ready_.end() && r->second != link) {
    Link* old = r->second;
    if (link->incarnation < old->incarnation) {
      reject(link, "stale incarnation " + std::to_string(link->incarnation) + " of '" + node +
                       "', its link is at " + std::to_string(old->incarnation));
      return false;
    }
    if (link->incarnation == old->incarnation && link->outbound != old->outbound &&
        opener(old) < opener(link)) {
      drop(link, "a link to '" + node + "' exists; the one opened by '" + opener(old) +
                     "' (the lower id) is kept");
      return false;
    }
    losers.push_back(old);
  }
  auto w = wanted_.find(node);
  Link* attempt = w == wanted_.end() ? nullptr : w->second->attempt;
  if (attempt && attempt != link) {
    // Our own connection still opening, and the peer's arrived: keep the
    // one opened by the lower id.
    if (me < node) {
      drop(link,
           "both nodes connected at once; the link opened by '" + me + "' (the lower id) is kept");
      return false;
    }
    losers.push_back(attempt);
  }
  for (Link* l : losers) {
    const std::string why =
        l->state == LinkState::ready && l->incarnation != link->incarnation
            ? "replaced by incarnation " + std::to_string(link->incarnation)
            : std::string("replaced by a newer link from '") + opener(link) + "'";
    drop(l, why, false, true);
  }
  return link->state == LinkState::hello;
}

void LinkHub::make_ready(Link* link) {
  link->state = LinkState::ready;
  counters_.links_up.fetch_add(1, std::memory_order_relaxed);
  ready_[link->node] = link;
  if (auto w = wanted_.find(link->node); w != wanted_.end()) {
    w->second->backoff.reset();
    if (w->second->attempt == link) w->second->attempt = nullptr;
  }
  {
    std::lock_guard map_lock(outboxes_mutex_);
    std::lock_guard lock(link->outbox->mutex);
    link->outbox->open = true;
    outboxes_[link->node] = link->outbox;
  }
  log_info(component, "link up",
           {{"node", options_.node_id},
            {"peer", link->node},
            {"incarnation", std::to_string(link->incarnation)},
            {"address", link->address},
            {"opened_by", link->outbound ? options_.node_id : link->node}});
  if (hooks_.on_up) hooks_.on_up(link->node, link->incarnation);
}

void LinkHub::drop(Link* link, const std::string& why, bool malformed, bool replaced) {
  if (link->state == LinkState::closing) return;
  const bool was_ready = link->state == LinkState::ready;
  link->state = LinkState::closing;
  if (malformed) counters_.frames_malformed_total.fetch_add(1, std::memory_order_relaxed);
  bool was_congested = false;
  {
    std::lock_guard map_lock(outboxes_mutex_);
    std::lock_guard lock(link->outbox->mutex);
    link->outbox->open = false;
    link->outbox->pending.clear();
    link->outbox->pending_frames = 0;
    link->outbox->queued.store(0);
    was_congested = link->outbox->congested;
    link->outbox->congested = false;
    if (auto o = outboxes_.find(link->node); o != outboxes_.end() && o->second == link->outbox)
      outboxes_.erase(o);
  }
  if (was_ready) {
    if (auto r = ready_.find(link->node); r != ready_.end() && r->second == link) ready_.erase(r);
    counters_.links_up.fetch_sub(1, std::memory_order_relaxed);
  }
  auto w = wanted_.find(link->node);
  if (w != wanted_.end() && w->second->attempt == link) w->second->attempt = nullptr;

  uv_read_stop(reinterpret_cast<uv_stream_t*>(&link->tcp));
  uv_close(as_handle(&link->tcp), [](uv_handle_t* h) {
    auto* l = static_cast<Link*>(h->data);
    LinkHub* hub = l->hub;
    hub->links_.erase(l);
    hub->handle_closed();
  });

  if (!closing_ && !replaced && w != wanted_.end() && !ready_.count(link->node) &&
      !busy(*w->second) && w->second->next_attempt_ms == 0)
    schedule_reconnect(link->node);

  if (was_ready) {
    log_info(component, "link down",
             {{"node", options_.node_id}, {"peer", link->node}, {"why", why}});
    if (was_congested && hooks_.on_pressure) hooks_.on_pressure(link->node, false);
    if (hooks_.on_down) hooks_.on_down(link->node, why);
  } else if (malformed) {
    log_warning(component, "connection closed before hello",
                {{"node", options_.node_id}, {"address", link->address}, {"why", why}});
  } else {
    log_debug(component, "connection closed before hello",
              {{"node", options_.node_id},
               {"peer", link->node},
               {"address", link->address},
               {"why", why}});
  }
}

bool LinkHub::send(const std::string& node, LinkFrame frame) {
  std::string bytes = encode_frame(frame);
  if (bytes.size() - frame_header_bytes > options_.max_frame_bytes)
    throw std::length_error("LinkHub::send: a frame of " + std::to_string(bytes.size()) +
                            " bytes is over max_frame_bytes (" +
                            std::to_string(options_.max_frame_bytes) + ")");
  std::shared_ptr<Outbox> box;
  {
    std::lock_guard map_lock(outboxes_mutex_);
    auto it = outboxes_.find(node);
    if (it == outboxes_.end()) return false;
    box = it->second;
  }
  std::lock_guard lock(box->mutex);
  if (!box->open) return false;
  const bool was_empty = box->pending.empty();
  if (was_empty && box->pending.capacity() < bytes.size()) box->pending.reserve(64 * 1024);
  box->pending += bytes;
  ++box->pending_frames;
  // fetch_add: the loop thread takes written bytes off without this lock.
  const std::size_t before = box->queued.fetch_add(bytes.size(), std::memory_order_relaxed);
  const std::size_t after = before + bytes.size();
  // Under the lock: close() marks every outbox closed before closing wake_.
  if (was_empty || (before < options_.high_water_bytes && after >= options_.high_water_bytes))
    uv_async_send(wake_);
  return true;
}

std::size_t LinkHub::queued_bytes(const std::string& node) const {
  std::lock_guard map_lock(outboxes_mutex_);
  auto it = outboxes_.find(node);
  return it == outboxes_.end() ? 0 : it->second->queued.load(std::memory_order_relaxed);
}

bool LinkHub::ready(const std::string& node) const {
  std::lock_guard map_lock(outboxes_mutex_);
  return outboxes_.count(node) != 0;
}

void LinkHub::write_internal(Link* link, const LinkFrame& frame) {
  {
    std::lock_guard lock(link->outbox->mutex);
    const std::size_t before = link->outbox->pending.size();
    append_frame(link->outbox->pending, frame);
    ++link->outbox->pending_frames;
    link->outbox->queued.fetch_add(link->outbox->pending.size() - before,
                                   std::memory_order_relaxed);
  }
  flush(link);
}

void LinkHub::flush(Link* link) {
  if (link->write_busy || (link->state != LinkState::hello && link->state != LinkState::ready))
    return;
  std::uint64_t frames;
  {
    std::lock_guard lock(link->outbox->mutex);
    if (link->outbox->pending.empty()) return;
    link->writing.clear();
    link->writing.swap(link->outbox->pending);  // the old buffer's room goes back to the senders
    frames = link->outbox->pending_frames;
    link->outbox->pending_frames = 0;
  }
  counters_.frames_sent_total.fetch_add(frames, std::memory_order_relaxed);
  link->last_write_ms = uv_now(loop_);
  auto* stream = reinterpret_cast<uv_stream_t*>(&link->tcp);
  uv_buf_t buf = uv_buf_init(link->writing.data(), static_cast<unsigned>(link->writing.size()));
  int n = uv_try_write(stream, &buf, 1);
  if (n == UV_EAGAIN || n == UV_ENOSYS) n = 0;
  if (n < 0) {
    drop(link, std::string("write: ") + uv_strerror(n));
    return;
  }
  counters_.bytes_sent_total.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  link->outbox->queued.fetch_sub(static_cast<std::size_t>(n), std::memory_order_relaxed);
  if (static_cast<std::size_t>(n) == link->writing.size()) return;
  link->write_offset = static_cast<std::size_t>(n);
  buf = uv_buf_init(link->writing.data() + n, static_cast<unsigned>(link->writing.size() - n));
  link->write_req.data = link;
  link->write_busy = true;
  int rc = uv_write(&link->write_req, stream, &buf, 1, [](uv_write_t* req, int status) {
    auto* l = static_cast<Link*>(req->data);
    l->hub->on_write_done(l, status);
  });
  if (rc != 0) {
    link->write_busy = false;
    drop(link, std::string("write: ") + uv_strerror(rc));
  }
}

void LinkHub::on_write_done(Link* link, int status) {
  link->write_busy = false;
  if (link->state == LinkState::closing) return;
  if (status < 0) {
    drop(link, std::string("write: ") + uv_strerror(status));
    return;
  }
  const std::size_t rest = link->writing.size() - link->write_offset;
  counters_.bytes_sent_total.fetch_add(rest, std::memory_order_relaxed);
  link->outbox->queued.fetch_sub(rest, std::memory_order_relaxed);
  flush(link);
  if (link->state == LinkState::ready) check_pressure(link);
}

void LinkHub::check_pressure(Link* link) {
  const std::size_t queued = link->outbox->queued.load(std::memory_order_relaxed);
  bool change = false, congested = false;
  {
    std::lock_guard lock(link->outbox->mutex);
    if (!link->outbox->congested && queued >= options_.high_water_bytes) {
      link->outbox->congested = change = congested = true;
    } else if (link->outbox->congested && queued <= options_.low_water_bytes) {
      link->outbox->congested = false;
      change = true;
    }
  }
  if (change && hooks_.on_pressure) hooks_.on_pressure(link->node, congested);
}

void LinkHub::on_wake() {
  if (closing_) return;
  std::vector<Link*> ready;
  ready.reserve(ready_.size());
  for (auto& [node, link] : ready_) ready.push_back(link);
  for (Link* link : ready) {
    flush(link);
    if (link->state == LinkState::ready) check_pressure(link);
  }
}

void LinkHub::on_tick() {
  if (closing_) return;
  const std::uint64_t now = uv_now(loop_);
  const std::uint64_t dead_ms = to_ms(options_.dead_after);
  const std::uint64_t heartbeat_ms = to_ms(options_.heartbeat);
  // A tick this late means this loop was not running (a paused process, a
  // long callback): the silence was ours, not the peers'. Start counting again.
  const bool we_were_away = now - last_tick_ms_ > std::max<std::uint64_t>(dead_ms / 2, 1);
  last_tick_ms_ = now;
  std::vector<Link*> links;
  links.reserve(links_.size());
  for (auto& [link, owned] : links_) links.push_back(link);
  for (Link* link : links) {
    if (we_were_away) {
      link->last_read_ms = now;
      link->started_ms = std::max(link->started_ms, now - std::min(now, dead_ms / 2));
      continue;
    }
    switch (link->state) {
      case LinkState::connecting:
        if (now - link->started_ms >= dead_ms)
          drop(link, "connect to " + link->address + " timed out after " +
                         std::to_string(now - link->started_ms) + " ms");
        break;
      case LinkState::hello:
        if (now - link->started_ms >= dead_ms)
          drop(link, "no hello within " + std::to_string(now - link->started_ms) + " ms");
        break;
      case LinkState::ready:
        if (now - link->last_read_ms >= dead_ms) {
          drop(link, "silent for " + std::to_string(now - link->last_read_ms) + " ms");
        } else if (now - link->last_write_ms >= heartbeat_ms && !link->write_busy) {
          write_internal(link, {FrameType::ping, 0, 0, {}, {}});
        }
        break;
      case LinkState::closing:
        break;
    }
  }
}

void LinkHub::schedule_reconnect(const std::string& node) {
  Wanted& w = *wanted_.at(node);
  w.next_attempt_ms = uv_now(loop_) + std::max<std::uint64_t>(1, to_ms(w.backoff.next()));
  arm_reconnect_timer();
}

void LinkHub::arm_reconnect_timer() {
  std::uint64_t first = 0;
  for (auto& [node, w] : wanted_) {
    if (w->next_attempt_ms != 0 && (first == 0 || w->next_attempt_ms < first))
      first = w->next_attempt_ms;
  }
  if (first == 0) {
    uv_timer_stop(reconnect_timer_);
    return;
  }
  const std::uint64_t now = uv_now(loop_);
  uv_timer_start(
      reconnect_timer_, [](uv_timer_t* t) { static_cast<LinkHub*>(t->data)->on_reconnect_timer(); },
      first > now ? first - now : 0, 0);
}

void LinkHub::on_reconnect_timer() {
  if (closing_) return;
  const std::uint64_t now = uv_now(loop_);
  std::vector<std::string> due;
  for (auto& [node, w] : wanted_) {
    if (w->next_attempt_ms != 0 && w->next_attempt_ms <= now) {
      w->next_attempt_ms = 0;
      if (!ready_.count(node) && !busy(*w)) due.push_back(node);
    }
  }
  for (const std::string& node : due) {
    if (wanted_.count(node) && !ready_.count(node) && !busy(*wanted_[node])) start_attempt(node);
  }
  arm_reconnect_timer();
}

void LinkHub::close(std::function<void()> done) {
  if (closing_) return;
  close_done_ = std::move(done);
  {
    // No send() may reach wake_ once it is closing.
    std::lock_guard map_lock(outboxes_mutex_);
    for (auto& [link, owned] : links_) {
      std::lock_guard lock(link->outbox->mutex);
      link->outbox->open = false;
    }
  }
  std::vector<Link*> links;
  for (auto& [link, owned] : links_) links.push_back(link);
  closing_ = true;
  for (Link* link : links) drop(link, "hub closing");
  // A resolution not yet started on the pool is cancelled; one running ends
  // soon. Either way its callback runs, and done waits for it.
  for (uv_getaddrinfo_t* req : resolves_) uv_cancel(reinterpret_cast<uv_req_t*>(req));
  wanted_.clear();
  auto close_handle = [this](uv_handle_t* h) {
    h->data = this;
    uv_close(h, [](uv_handle_t* handle) {
      auto* hub = static_cast<LinkHub*>(handle->data);
      if (handle->type == UV_TCP)
        delete reinterpret_cast<uv_tcp_t*>(handle);
      else if (handle->type == UV_TIMER)
        delete reinterpret_cast<uv_timer_t*>(handle);
      else
        delete reinterpret_cast<uv_async_t*>(handle);
      hub->handle_closed();
    });
  };
  if (listener_) close_handle(as_handle(listener_));
  close_handle(as_handle(tick_));
  close_handle(as_handle(reconnect_timer_));
  close_handle(as_handle(wake_));
  listener_ = nullptr;
}

void LinkHub::handle_closed() {
  if (--open_handles_ == 0 && closing_ && close_done_) {
    auto done = std::move(close_done_);
    close_done_ = nullptr;
    done();
  }
}

}  // namespace troupe::cluster
