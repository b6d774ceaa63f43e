#pragma once
// ws::Server: WebSocket upgrades and plain HTTP on one port, served by
// libwebsockets on event loops that belong to someone else (the loops of the
// gateway's I/O schedulers, or an application's single loop).
//
// Shape: one lws context per loop, none of them listening. The server owns one
// listening socket, watched on loops[0]; each accepted socket goes round-robin
// to a loop (through that loop's inbox and a uv_async wake-up) and is adopted
// there. Connections never move between loops afterwards.
//
// Every request, upgrade or plain HTTP, is checked before it is served:
// its head must fit (431/414, 400 for %00), Host must name this server (421,
// ws::Options::allowed_hosts: on a loopback address only localhost,
// 127.0.0.1 and [::1] by default), Origin must be same-origin or listed (403,
// ws::Options::allowed_origins), and decoded query parameters must be UTF-8
// without NUL (400). Text frames are valid UTF-8 both ways (see send()).
// With a certificate (ws::Options::tls_cert_file) the port serves wss:// and
// https:// only, and the head is read by lws after the TLS handshake: one
// lws cannot hold is closed without a status (docs/net.md, "TLS (wss://)").
//
// Lifecycle: construct -> add_route / add_http_handler -> start() -> serve ->
// shutdown() -> (all loops released) -> destroy. The loops must keep running
// until the server reports that it stopped; after that the server holds no
// handle on them, so uv_loop_close() can succeed.
//
// Threading, member by member:
//   add_route, add_http_handler  any one thread, before start()
//   start                        once, from a thread that is not a loop thread
//                                (or, for a loop without `post`, before that
//                                loop runs or on its thread)
//   port, loop_count, counters   any thread, after start()
//   send, close                  any thread, any time (ignored once stopping)
//   shutdown                     any thread, any number of times
//   wait_stopped                 any thread but a loop thread
//   ~ws::Server             after stopped, or if start() never succeeded
//                                and shutdown completed

#include <uv.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "net/ws/counters.hpp"
#include "net/ws/handler.hpp"
#include "net/ws/http.hpp"
#include "net/ws/options.hpp"
#include "net/ws/types.hpp"
#include "runtime/export.hpp"

namespace troupe {

namespace detail {
class LoopWorker;
struct ServerShared;
}  // namespace detail

// A libuv loop the server may use, and how to run code on the thread that runs
// it (hiredis-style hook: the runtime's scheduler provides it).
namespace ws {

struct TROUPE_EXPORT EventLoop {
  uv_loop_t* loop = nullptr;
  // Runs fn soon on the loop's thread. May be empty when the loop is not
  // running yet at start() or start() is called on its thread: the server then
  // sets itself up on that loop inline.
  std::function<void(std::function<void()> fn)> post;
};

class TROUPE_EXPORT Server {
 public:
  // At most 256 loops (a ConnectionId keeps the loop index in 8 bits).
  Server(std::vector<EventLoop> loops, ws::Options options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serve ws://host:port<prefix>/<name>. `prefix` is "/" followed by one or
  // more path segments ("/rooms"). The name is the rest of the decoded path: 1
  // to 256 bytes, and every byte in the safe set documented at
  // is_valid_route_name(); anything else gets 400, an unknown prefix 404.
  // Throws std::invalid_argument for a malformed or duplicate prefix.
  void add_route(std::string prefix, std::shared_ptr<ws::Handler> handler,
                 ws::RouteLimits options = {});

  // Answer GET <path> (exact, decoded) with `handler`. Throws
  // std::invalid_argument for a duplicate or a path not starting with '/'.
  void add_http_handler(std::string path, HttpHandler handler);

  // Binds the listening socket and sets up every loop. Returns an error (and
  // serves nothing) when the address cannot be bound or lws refuses a loop; in
  // that case any loop already set up is released as by shutdown().
  std::error_code start();

  // The bound port (useful with ws::Options::port == 0).
  std::uint16_t port() const { return port_; }
  std::size_t loop_count() const { return loops_.size(); }

  // Queue a message for a connection. Returns false when it was certainly not
  // queued (server stopping, bad id, or a text message that is not valid
  // UTF-8: that one is refused whole, nothing is sent, the connection stays
  // open and ws::Counters::invalid_text_refused counts it; the check is a
  // scan, 8 bytes at a time for ASCII); true means handed to the owning loop,
  // which still drops it if the connection has closed meanwhile. Copies `data`.
  // On the owning loop's own thread (a session on its connections' scheduler)
  // it skips the loop's inbox, and writes to the socket at once when nothing
  // is queued before it; false then also means the connection is closing.
  bool send(ConnectionId, std::string_view data, MessageKind kind = MessageKind::text);

  // Close a connection after the messages already queued for it are flushed,
  // with `code` (1000, or 3000-4999 for applications) and a reason of at most
  // 123 bytes (longer is cut). on_close reports this code.
  bool close(ConnectionId, std::uint16_t code = close_code::normal, std::string_view reason = {});
  // Stops (paused) or resumes reading a connection's socket, so that a
  // client that sends faster than its session handles waits in TCP instead
  // of growing a queue (the gateway's backpressure). Independent of the
  // server's own pauses (rate limits, outbound backlog). Any thread; false
  // if the connection is gone.
  bool pause_reading(ConnectionId, bool paused);

  // Graceful stop: stop accepting, close every connection with 1001, wait up to
  // shutdown_timeout for the clients' answers, then release libwebsockets and
  // every handle on the loops. `on_stopped` runs once, on a loop thread, when
  // all loops are released (immediately, on this thread, if nothing runs); it
  // runs before wait_stopped() returns and must not destroy the server.
  void shutdown(std::function<void()> on_stopped = {});

  // Blocks until the server has stopped (after shutdown() or a failed start()).
  void wait_stopped();
  bool stopped() const;

  ws::Counters counters() const;

 private:
  friend class detail::LoopWorker;
  void on_worker_released();
  bool configurable() const;

  std::vector<EventLoop> loops_;
  std::shared_ptr<detail::ServerShared> shared_;
  std::vector<std::unique_ptr<detail::LoopWorker>> workers_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;

  mutable std::mutex state_mu_;
  std::condition_variable state_cv_;
  enum class State { idle, running, stopping, stopped } state_ = State::idle;
  std::size_t workers_live_ = 0;
  std::vector<std::function<void()>> on_stopped_;
};

}  // namespace ws
}  // namespace troupe
