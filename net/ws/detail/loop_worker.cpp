// A LoopWorker's life on its loop: setup, the inbox other threads post to,
// adopting accepted sockets, and the teardown order Debian's lws needs on a
// foreign libuv loop (docs/net.md): stop accepting, close connections with
// 1001, lws_context_destroy #1, wait until lws's own handles have left the
// loop, lws_context_destroy #2, then close our handles.

#include "net/ws/detail/loop_worker.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "net/ws/detail/listener.hpp"
#include "net/ws/detail/tls_reloader.hpp"
#include "net/ws/server.hpp"
#include "runtime/log.hpp"

namespace troupe::detail {
namespace {

// lws_create_context/lws_context_destroy touch process-wide lws state (log
// settings, SIGPIPE, the plugin's dlopen count): one at a time, over all
// servers in the process.
std::mutex& lws_global_mutex() {
  static std::mutex mutex;
  return mutex;
}

void emit_lws_log(int level, const char* line) {
  // lws 4.1 logs every lws_adopt_socket_vhost_readbuf as an error.
  if (std::strstr(line, "adopt_socket_readbuf:")) return;
  // lws ends its lines with a newline; the sink adds its own.
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  troupe::log(level & LLL_ERR ? LogLevel::error : LogLevel::warning, "lws", text);
}

// Debian's lws formats log lines in one static buffer: keep it to errors and
// warnings, which are rare, so two loops practically never log at once.
void configure_lws_logging() {
  static std::once_flag once;
  std::call_once(once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, emit_lws_log); });
}

int lws_event(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  if (!wsi) return lws_callback_http_dummy(wsi, reason, user, in, len);
  auto* worker = static_cast<LoopWorker*>(lws_context_user(lws_get_context(wsi)));
  if (!worker) return lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return worker->on_lws_event(wsi, reason, user, in, len);
  } catch (...) {
    return -1;  // an exception must not unwind through C
  }
}

std::unordered_set<uv_handle_t*> handles_on(uv_loop_t* loop) {
  std::unordered_set<uv_handle_t*> handles;
  uv_walk(
      loop,
      [](uv_handle_t* handle, void* arg) {
        static_cast<std::unordered_set<uv_handle_t*>*>(arg)->insert(handle);
      },
      &handles);
  return handles;
}

constexpr std::uint64_t teardown_tick_ms = 2;

}  // namespace

OutFrame::OutFrame(std::string_view payload, MessageKind kind)
    : buffer_(LWS_PRE + payload.size()), kind_(kind) {
  if (!payload.empty()) std::memcpy(buffer_.data() + LWS_PRE, payload.data(), payload.size());
}

LoopWorker::LoopWorker(ws::Server& server, ServerShared& shared, std::size_t index, uv_loop_t* loop)
    : server_(server), shared_(shared), index_(index), loop_(loop) {}

LoopWorker::~LoopWorker() {
  free_retired();
}

void fill_protocols(ServerShared& shared) {
  shared.protocols[0].name = "troupe";
  shared.protocols[0].callback = lws_event;
  shared.protocols[0].rx_buffer_size = shared.options.receive_buffer_bytes;
  // Without it lws would also cut every send() to rx_buffer_size.
  shared.protocols[0].tx_packet_size = 64 * 1024;
}

std::error_code LoopWorker::init(std::vector<LoopWorker*> all) {
  configure_lws_logging();
  workers_ = std::move(all);
  uv_async_init(loop_, &wake_, on_wake);
  wake_.data = this;
  uv_timer_init(loop_, &teardown_timer_);
  teardown_timer_.data = this;
  uv_prepare_init(loop_, &flush_);
  flush_.data = this;
  HeadLimits limits;
  limits.timeout = shared_.options.handshake_timeout;
  limits.tls = shared_.tls != nullptr;
  heads_ = std::make_unique<HeadReader>(
      loop_, limits,
      [this](int fd, std::string bytes, std::uint64_t accepted_ms) {
        if (phase_ != Phase::serving) {
          ::close(fd);
          return;
        }
        if (shared_.tls) return adopt_tls(fd, accepted_ms);
        // On failure lws has closed the socket itself.
        if (bytes.empty())
          lws_adopt_socket_vhost(vhost_, fd);
        else
          lws_adopt_socket_vhost_readbuf(vhost_, fd, bytes.data(), bytes.size());
      },
      [this](int) { AtomicCounters::bump(shared_.counters.heads_refused); });
  uv_timer_init(loop_, &throttle_timer_);
  throttle_timer_.data = this;
  tls_deadlines_.init(loop_);
  // wake_, teardown_timer_, flush_, throttle_timer_, the head reader, tls_deadlines_
  open_handles_ = 6;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_open_ = true;
  }
  uv_async_send(&wake_);  // the first wake-up tells the worker its loop's thread

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof(info));
  void* foreign_loops[1] = {loop_};
  // Not LWS_SERVER_OPTION_VALIDATE_UTF8: lws then drops a close frame whose
  // reason is not UTF-8 without a close frame; ws_events.cpp checks text.
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.vhost_name = "default";
  info.protocols = shared_.protocols;
  info.foreign_loops = foreign_loops;
  info.pcontext = &context_;
  info.user = this;
  info.timeout_secs = static_cast<unsigned int>(shared_.options.handshake_timeout.count());
  info.timeout_secs_ah_idle = info.timeout_secs;
  // Room for any head the HeadReader lets through (decoded, it only shrinks).
  info.max_http_header_data = static_cast<unsigned short>(limits.max_head_bytes + 1024);
  info.retry_and_idle_policy = &shared_.retry_policy;
  if (shared_.tls) {
    // The vhost's SSL_CTX is set up in configure_tls(), from the certificate
    // start() loaded; lws reads no file itself.
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX;
    // Not h2: our checks and callbacks are written for HTTP/1.1 upgrades.
    info.alpn = "http/1.1";
    info.provided_client_ssl_ctx = shared_.tls_unused_client.get();
  }

  // lws's handles are the ones that appear during create; remembering them
  // is how teardown knows when lws has left a loop that others share.
  const auto before = handles_on(loop_);
  {
    std::lock_guard lock(lws_global_mutex());
    context_ = lws_create_context(&info);
  }
  for (uv_handle_t* handle : handles_on(loop_)) {
    if (!before.count(handle)) lws_handles_.insert(handle);
  }
  if (context_) vhost_ = lws_get_vhost_by_name(context_, "default");
  if (!context_ || !vhost_) {
    // With foreign loops a failed create can return a context that is
    // already being destroyed: it still needs the second destroy.
    context_failed_ = context_ != nullptr;
    begin_stop();
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

std::error_code LoopWorker::listen(int fd) {
  ++open_handles_;
  listener_ = new Listener(
      loop_, fd, [this](int accepted) { deal(accepted); }, [this] { on_handle_closed(); });
  const auto error = listener_->start();
  if (error) {
    listener_ = nullptr;
    return error;
  }
  const auto interval = shared_.options.tls_reload_interval;
  if (shared_.tls && interval.count() > 0) {
    ++open_handles_;
    tls_reloader_ = new TlsReloader(
        loop_, *shared_.tls, shared_.tls_stamp, interval,
        [this](bool reloaded) {
          AtomicCounters::bump(reloaded ? shared_.counters.tls_reloads
                                        : shared_.counters.tls_reload_failures);
        },
        [this] { on_handle_closed(); });
    tls_reloader_->start();
  }
  return {};
}

void LoopWorker::adopt_tls(int fd, std::uint64_t accepted_ms) {
  // lws starts the TLS accept at once; on failure it has closed the socket.
  lws* wsi = lws_adopt_socket_vhost(vhost_, fd);
  if (!wsi) return;
  tls_deadlines_.add(
      wsi, accepted_ms + static_cast<std::uint64_t>(
                             std::chrono::milliseconds(shared_.options.handshake_timeout).count()));
}

int LoopWorker::configure_tls(void* ssl_ctx) {
  if (!shared_.tls) return 0;
  std::string error;
  if (configure_server_context(static_cast<SSL_CTX*>(ssl_ctx), *shared_.tls, error)) return 0;
  log_error("ws", "cannot set up TLS", {{"error", error}});
  return 1;
}

void LoopWorker::deal(int fd) {
  AtomicCounters::bump(shared_.counters.tcp_accepted);
  LoopWorker* target = workers_[next_worker_++ % workers_.size()];
  if (target == this) {
    adopt(fd);
    return;
  }
  Command command;
  command.kind = Command::Kind::adopt;
  command.fd = fd;
  if (!target->post(std::move(command))) ::close(fd);
}

void LoopWorker::adopt(int fd) {
  if (phase_ != Phase::serving) {
    ::close(fd);
    return;
  }
  // lws gets the socket once the request head has been read and judged.
  heads_->start(fd);
}

bool LoopWorker::post(Command&& command) {
  std::lock_guard lock(inbox_mu_);
  if (!inbox_open_) return false;
  inbox_.push_back(std::move(command));
  // Under the lock: release_loop() closes wake_ only after closing the inbox.
  uv_async_send(&wake_);
  return true;
}

void LoopWorker::on_wake(uv_async_t* handle) {
  static_cast<LoopWorker*>(handle->data)->drain_inbox();
}

void LoopWorker::drain_inbox() {
  if (loop_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id())
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_release);
  std::vector<Command> batch;
  {
    std::lock_guard lock(inbox_mu_);
    batch.swap(inbox_);
  }
  for (Command& command : batch) apply(command);
  free_retired();
}

void LoopWorker::apply(Command& command) {
  switch (command.kind) {
    case Command::Kind::adopt:
      adopt(command.fd);
      break;
    case Command::Kind::send:
      if (PeerState* peer = find(command.id)) queue_send(*peer, std::move(command.frame));
      break;
    case Command::Kind::close:
      if (PeerState* peer = find(command.id)) {
        request_close(*peer, command.code, command.reason, true);
      }
      break;
    case Command::Kind::pause_reading:
      pause_reading_here(command.id, command.code != 0);
      break;
    case Command::Kind::stop:
      begin_stop();
      break;
  }
}

void LoopWorker::free_retired() {
  for (PeerState* peer : retired_) delete peer;
  retired_.clear();
}

void LoopWorker::begin_stop() {
  if (phase_ != Phase::serving) return;
  phase_ = Phase::draining;
  if (listener_) {
    listener_->close();
    listener_ = nullptr;
  }
  if (tls_reloader_) {
    tls_reloader_->close();
    tls_reloader_ = nullptr;
  }
  resume_throttled(true);  // their close answers must be read
  heads_->close([this] { on_handle_closed(); });
  if (!context_ || context_failed_) {
    phase_ = Phase::destroying;
  } else {
    std::vector<PeerState*> open;
    open.reserve(connections_.size());
    for (auto& [id, peer] : connections_) open.push_back(peer);
    for (PeerState* peer : open) request_close(*peer, close_code::going_away, "going away", false);
  }
  uv_update_time(loop_);
  drain_deadline_ms_ =
      uv_now(loop_) + static_cast<std::uint64_t>(shared_.options.shutdown_timeout.count());
  uv_timer_start(&teardown_timer_, on_teardown_tick, 0, teardown_tick_ms);
}

void LoopWorker::on_teardown_tick(uv_timer_t* handle) {
  static_cast<LoopWorker*>(handle->data)->teardown_tick();
}

void LoopWorker::teardown_tick() {
  if (phase_ == Phase::draining) {
    if (open_wsis_ > 0 && uv_now(loop_) < drain_deadline_ms_) return;
    phase_ = Phase::destroying;
    std::lock_guard lock(lws_global_mutex());
    lws_context_destroy(context_);  // #1: starts closing lws's handles
    return;
  }
  if (phase_ != Phase::destroying) return;
  if (context_) {
    const auto live = handles_on(loop_);
    for (uv_handle_t* handle : lws_handles_) {
      if (live.count(handle)) return;  // its close callback has not run yet
    }
    std::lock_guard lock(lws_global_mutex());
    lws_context_destroy(context_);  // #2: frees the context, clears context_
    context_ = nullptr;
    vhost_ = nullptr;
  }
  release_loop();
}

void LoopWorker::release_loop() {
  phase_ = Phase::released;
  std::vector<Command> leftover;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_open_ = false;
    leftover.swap(inbox_);
  }
  for (Command& command : leftover) {
    if (command.kind == Command::Kind::adopt) ::close(command.fd);
  }
  free_retired();
  connections_.clear();
  uv_timer_stop(&teardown_timer_);
  const auto closed = [](uv_handle_t* handle) {
    static_cast<LoopWorker*>(handle->data)->on_handle_closed();
  };
  corked_.clear();
  throttled_.clear();
  uv_prepare_stop(&flush_);
  uv_timer_stop(&throttle_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&throttle_timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&teardown_timer_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_), closed);
  tls_deadlines_.close([this] { on_handle_closed(); });
}

void LoopWorker::on_handle_closed() {
  // The listener can finish closing before the worker reaches released.
  if (--open_handles_ == 0 && phase_ == Phase::released) {
    server_.on_worker_released();  // may destroy this worker: touch nothing after
  }
}

int LoopWorker::on_lws_event(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                             std::size_t len) {
  if (shared_.tls) {
    // A TLS connection's head has been parsed (or it is gone): its
    // handshake deadline is met.
    if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE || reason == LWS_CALLBACK_HTTP ||
        reason == LWS_CALLBACK_WSI_DESTROY)
      tls_deadlines_.forget(wsi);
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) return configure_tls(user);
  }
  switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return on_confirm_upgrade(wsi, in ? static_cast<const char*>(in) : "");
    case LWS_CALLBACK_ESTABLISHED:
      return on_established(wsi);
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED: {
      auto* peer = static_cast<PeerState*>(lws_get_opaque_user_data(wsi));
      if (!peer || !peer->opened) return reason == LWS_CALLBACK_CLOSED ? 0 : -1;
      if (reason == LWS_CALLBACK_RECEIVE) {
        return on_receive(wsi, *peer, static_cast<const char*>(in), len);
      }
      if (reason == LWS_CALLBACK_SERVER_WRITEABLE) return on_writeable(*peer);
      if (reason == LWS_CALLBACK_WS_PEER_INITIATED_CLOSE) {
        return on_peer_close(*peer, static_cast<const unsigned char*>(in), len);
      } else {
        on_closed(*peer, true);
      }
      return 0;
    }
    case LWS_CALLBACK_HTTP:
      return on_http(wsi, in ? static_cast<const char*>(in) : "");
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return on_http_writeable(wsi);
    case LWS_CALLBACK_WSI_DESTROY:
      on_wsi_destroy(wsi);
      break;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

}  // namespace troupe::detail
