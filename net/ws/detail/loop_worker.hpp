#pragma once
// One loop's share of a ws::Server: its lws context (no listener), the
// inbox other threads post to, its connections, and its teardown.
//
// Everything here runs on the loop's thread except post(), which any thread
// may call until the worker releases the loop (it then refuses, under the
// inbox lock, so no one touches the closed uv_async_t).

#include <libwebsockets.h>
#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/ws/detail/head_reader.hpp"
#include "net/ws/detail/peer_state.hpp"
#include "net/ws/detail/server_shared.hpp"
#include "net/ws/detail/tls_deadlines.hpp"
#include "net/ws/types.hpp"

namespace troupe {
namespace ws {
class Server;
}
}  // namespace troupe

namespace troupe::detail {

class Listener;
class TlsReloader;

// Points the shared lws protocol table at the callback all workers use.
void fill_protocols(ServerShared& shared);

class LoopWorker {
 public:
  LoopWorker(ws::Server& server, ServerShared& shared, std::size_t index, uv_loop_t* loop);
  ~LoopWorker();
  LoopWorker(const LoopWorker&) = delete;
  LoopWorker& operator=(const LoopWorker&) = delete;

  // Loop thread (or before the loop runs). Creates the wake-up handles and the
  // lws context. On failure the worker is already releasing the loop and
  // reports it to the server as after a stop.
  std::error_code init(std::vector<LoopWorker*> all);

  // Loop thread, after every worker's init(). Watches the listening socket
  // (owning it from now on, even on failure) and deals accepted connections
  // round-robin to all workers.
  std::error_code listen(int fd);

  // Any thread. False if the worker no longer accepts commands.
  bool post(Command&& command);

  // True on the thread that runs this worker's loop (known once the loop
  // has run the worker's first wake-up).
  bool on_loop_thread() const {
    return loop_thread_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // Loop thread only: send or close at once, without the inbox. False if
  // the connection is unknown or closing.
  bool send_here(ConnectionId id, std::string_view data, MessageKind kind);
  bool close_here(ConnectionId id, std::uint16_t code, std::string_view reason);
  bool pause_reading_here(ConnectionId id, bool paused);

  // libwebsockets' protocol callback for this worker's context.
  int on_lws_event(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);

  std::size_t index() const { return index_; }

 private:
  // inbox and lifecycle (loop_worker.cpp)
  static void on_wake(uv_async_t* handle);
  static void on_teardown_tick(uv_timer_t* handle);
  void drain_inbox();
  void apply(Command& command);
  void deal(int fd);
  void adopt(int fd);
  void on_handle_closed();
  void adopt_tls(int fd, std::uint64_t accepted_ms);
  int configure_tls(void* ssl_ctx);
  void begin_stop();
  void teardown_tick();
  void release_loop();
  void free_retired();

  // WebSocket connections (ws_events.cpp)
  int on_confirm_upgrade(lws* wsi, std::string_view upgrade);
  int on_established(lws* wsi);
  int on_receive(lws* wsi, PeerState& peer, const char* data, std::size_t len);
  int on_writeable(PeerState& peer);
  int on_peer_close(PeerState& peer, const unsigned char* payload, std::size_t len);
  void on_closed(PeerState& peer, bool close_buffer_readable);
  void on_wsi_destroy(lws* wsi);
  bool queue_send(PeerState& peer, OutFrame&& frame);
  bool fits_outbound(const PeerState& peer, std::size_t size) const;
  bool admit_outbound(PeerState& peer, std::size_t size);
  void account(PeerState& peer);
  bool can_write_now(PeerState& peer) const;
  void cork(PeerState& peer, const unsigned char* payload, std::size_t size, MessageKind kind);
  void write_corked(PeerState& peer);
  static void on_flush(uv_prepare_t* handle);
  void flush_corked();
  // rate limits (throttle.cpp)
  bool admit_rate(PeerState& peer, std::size_t bytes);
  static void on_throttle_timer(uv_timer_t* handle);
  void resume_throttled(bool all);
  void arm_throttle_timer();
  void forget_throttled(PeerState* peer);

  void request_close(PeerState& peer, std::uint16_t code, std::string_view reason, bool flush);
  void close_now(PeerState& peer, std::uint16_t code, std::string_view reason);
  void report_close(PeerState& peer, std::uint16_t code, std::string_view reason);
  int refuse_upgrade(lws* wsi, int status, std::string_view body,
                     std::string_view extra_headers = {});
  PeerState* find(ConnectionId id);
  PeerState& state_of(lws* wsi);

  // plain HTTP (http_events.cpp)
  int on_http(lws* wsi, std::string_view uri);
  int on_http_writeable(lws* wsi);
  int respond(lws* wsi, int status, const std::string& content_type, std::string body,
              const std::string& location = {});
  // static_files.cpp
  int serve_static(lws* wsi, std::string_view uri);

  ws::Server& server_;
  ServerShared& shared_;
  const std::size_t index_;
  uv_loop_t* const loop_;

  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  bool context_failed_ = false;
  std::unordered_set<uv_handle_t*> lws_handles_;  // lws's own handles on loop_

  uv_async_t wake_{};
  uv_timer_t teardown_timer_{};
  uv_prepare_t flush_{};               // writes the corked frames before the loop polls
  std::vector<PeerState*> corked_;     // peers with corked frames
  uv_timer_t throttle_timer_{};        // resumes reading from slowed peers
  std::vector<PeerState*> throttled_;  // peers whose reading is paused
  // ours (wake_, teardown_timer_, flush_, throttle_timer_, the head reader,
  // tls_deadlines_, listener, tls_reloader_) open
  int open_handles_ = 0;
  std::atomic<std::thread::id> loop_thread_{};
  std::mutex inbox_mu_;
  std::vector<Command> inbox_;
  bool inbox_open_ = false;

  Listener* listener_ = nullptr;         // owned; only on the worker that accepts
  std::unique_ptr<HeadReader> heads_;    // accepted sockets until their head is read
  TlsDeadlines tls_deadlines_;           // TLS connections until lws has parsed their head
  TlsReloader* tls_reloader_ = nullptr;  // owned; only on the worker that accepts
  std::vector<LoopWorker*> workers_;
  std::size_t next_worker_ = 0;

  std::unordered_map<ConnectionId, PeerState*> connections_;
  std::vector<PeerState*> retired_;
  std::size_t open_wsis_ = 0;  // opened WebSocket wsis not yet CLOSED
  std::uint64_t next_serial_ = 1;

  enum class Phase { serving, draining, destroying, released } phase_ = Phase::serving;
  std::uint64_t drain_deadline_ms_ = 0;
};

}  // namespace troupe::detail
