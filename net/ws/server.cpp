#include "net/ws/server.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <stdexcept>

#include "net/ws/detail/listener.hpp"
#include "net/ws/detail/loop_worker.hpp"
#include "net/ws/detail/server_shared.hpp"
#include "net/ws/utf8.hpp"
#include "runtime/log.hpp"

namespace troupe {
namespace {

bool is_valid_prefix(const std::string& prefix) {
  return prefix.size() >= 2 && prefix.front() == '/' && prefix.back() != '/' &&
         prefix.find("//") == std::string::npos &&
         prefix.find_first_of("?#% ") == std::string::npos;
}

void configure_static_files(detail::ServerShared& shared) {
  const ws::Options& options = shared.options;
  if (options.static_dir.empty()) return;
  // Suffixes lws does not know, then "*" so no file is refused with 415.
  static const std::pair<const char*, const char*> extra[] = {{".mjs", "text/javascript"},
                                                              {".wasm", "application/wasm"},
                                                              {".webp", "image/webp"},
                                                              {".map", "application/json"},
                                                              {"*", "application/octet-stream"}};
  shared.mimetypes.resize(std::size(extra));
  for (std::size_t i = 0; i < std::size(extra); ++i) {
    auto& option = shared.mimetypes[i];
    option = {};
    option.next = i + 1 < std::size(extra) ? &shared.mimetypes[i + 1] : nullptr;
    option.name = extra[i].first;
    option.value = extra[i].second;
  }
  lws_http_mount& mount = shared.mount;
  mount.mountpoint = options.static_mount.c_str();
  mount.mountpoint_len = static_cast<unsigned char>(options.static_mount.size());
  mount.origin = options.static_dir.c_str();
  mount.def = "index.html";
  mount.origin_protocol = LWSMPRO_FILE;
  mount.extra_mimetypes = shared.mimetypes.data();
  shared.static_root = detail::resolve_static_root(options.static_dir);
}

void configure_heartbeat(detail::ServerShared& shared) {
  const ws::Options& options = shared.options;
  auto& policy = shared.retry_policy;
  policy.retry_ms_table = shared.retry_table;
  policy.retry_ms_table_count = 1;
  if (options.heartbeat_interval.count() > 0) {
    policy.secs_since_valid_ping = static_cast<std::uint16_t>(options.heartbeat_interval.count());
    policy.secs_since_valid_hangup = static_cast<std::uint16_t>(
        std::max(options.heartbeat_timeout.count(), options.heartbeat_interval.count() + 1));
  }
}

// The certificate every loop starts with; an error (logged) when unusable.
std::error_code load_tls(detail::ServerShared& shared) {
  const ws::Options& options = shared.options;
  if (options.tls_cert_file.empty()) return {};
  shared.tls_stamp = detail::stamp_files(options.tls_cert_file, options.tls_key_file);
  detail::LoadedCertificate loaded =
      detail::load_certified_key(options.tls_cert_file, options.tls_key_file);
  if (!loaded.certified) {
    log_error(
        "ws", "TLS certificate unusable, not serving",
        {{"cert", options.tls_cert_file}, {"key", options.tls_key_file}, {"error", loaded.error}});
    return std::make_error_code(std::errc::invalid_argument);
  }
  log_info("ws", "TLS certificate loaded",
           {{"cert", options.tls_cert_file}, {"certificate", loaded.certified->description()}});
  shared.tls =
      std::make_unique<detail::TlsCertificates>(options.tls_cert_file, options.tls_key_file);
  shared.tls->replace(std::move(loaded.certified));
  shared.tls_unused_client.reset(SSL_CTX_new(TLS_client_method()));
  if (!shared.tls_unused_client) return std::make_error_code(std::errc::not_enough_memory);
  return {};
}

// Runs fn on the loop's thread (through its post hook) or inline, and waits.
std::error_code run_on(const ws::EventLoop& loop, const std::function<std::error_code()>& fn) {
  if (!loop.post) return fn();
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto result = done->get_future();
  loop.post([done, fn] { done->set_value(fn()); });
  return result.get();
}

}  // namespace

ws::Server::Server(std::vector<ws::EventLoop> loops, ws::Options options)
    : loops_(std::move(loops)),
      shared_(std::make_shared<detail::ServerShared>(std::move(options))) {
  if (loops_.empty() || loops_.size() > 256) {
    throw std::invalid_argument("ws::Server needs 1 to 256 loops");
  }
  for (const auto& loop : loops_) {
    if (!loop.loop) throw std::invalid_argument("ws::Server: null loop");
  }
  const auto& opts = shared_->options;
  if (!opts.static_dir.empty() && !is_valid_prefix(opts.static_mount)) {
    throw std::invalid_argument("ws::Server: bad static_mount");
  }
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    throw std::invalid_argument("ws::Server: tls_cert_file and tls_key_file go together");
  }
}

ws::Server::~Server() {
  std::lock_guard lock(state_mu_);
  if (state_ == State::running || state_ == State::stopping) {
    // Workers still hold handles on the loops and point at this object.
    log_error("ws", "ws::Server destroyed before it stopped");
    std::abort();
  }
}

bool ws::Server::configurable() const {
  std::lock_guard lock(state_mu_);
  return state_ == State::idle;
}

void ws::Server::add_route(std::string prefix, std::shared_ptr<ws::Handler> handler,
                           ws::RouteLimits options) {
  if (!configurable()) throw std::logic_error("add_route after start");
  if (!is_valid_prefix(prefix)) throw std::invalid_argument("bad route prefix: " + prefix);
  if (!handler) throw std::invalid_argument("null route handler");
  auto& routes = shared_->routes;
  for (const auto& route : routes) {
    if (route.prefix == prefix) throw std::invalid_argument("duplicate route: " + prefix);
  }
  routes.push_back({std::move(prefix), std::move(handler), options});
  std::stable_sort(routes.begin(), routes.end(),
                   [](const auto& a, const auto& b) { return a.prefix.size() > b.prefix.size(); });
}

void ws::Server::add_http_handler(std::string path, HttpHandler handler) {
  if (!configurable()) throw std::logic_error("add_http_handler after start");
  if (path.empty() || path.front() != '/') throw std::invalid_argument("bad HTTP path: " + path);
  if (!handler) throw std::invalid_argument("null HTTP handler");
  if (!shared_->http_handlers.emplace(path, std::move(handler)).second) {
    throw std::invalid_argument("duplicate HTTP path: " + path);
  }
}

std::error_code ws::Server::start() {
  {
    std::lock_guard lock(state_mu_);
    if (state_ != State::idle) throw std::logic_error("ws::Server::start called twice");
  }
  detail::fill_protocols(*shared_);
  configure_heartbeat(*shared_);
  configure_static_files(*shared_);

  const auto& options = shared_->options;
  if (auto error = load_tls(*shared_)) {
    std::lock_guard lock(state_mu_);
    state_ = State::stopped;
    return error;
  }
  int fd = -1;
  if (auto error = detail::open_listen_socket(options.address, options.port, options.listen_backlog,
                                              fd, port_)) {
    std::lock_guard lock(state_mu_);
    state_ = State::stopped;
    return error;
  }

  std::vector<detail::LoopWorker*> all;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    workers_.push_back(std::make_unique<detail::LoopWorker>(*this, *shared_, i, loops_[i].loop));
    all.push_back(workers_.back().get());
  }
  {
    std::lock_guard lock(state_mu_);
    state_ = State::running;
  }

  std::error_code error;
  for (std::size_t i = 0; i < loops_.size() && !error; ++i) {
    {
      std::lock_guard lock(state_mu_);
      ++workers_live_;  // a worker that failed init still releases its loop
    }
    detail::LoopWorker* worker = workers_[i].get();
    error = run_on(loops_[i], [worker, all] { return worker->init(all); });
  }
  if (!error) {
    detail::LoopWorker* first = workers_[0].get();
    error = run_on(loops_[0], [first, fd] { return first->listen(fd); });
  } else {
    ::close(fd);
  }
  if (error) shutdown();
  return error;
}

bool ws::Server::send(ConnectionId id, std::string_view data, MessageKind kind) {
  if (!id || id.loop() >= workers_.size()) return false;
  // A client must fail the connection on an invalid text frame (RFC 6455
  // section 8.1): one bad string would disconnect everyone it is sent to.
  if (kind == MessageKind::text && !is_valid_utf8(data)) {
    detail::AtomicCounters::bump(shared_->counters.invalid_text_refused);
    return false;
  }
  detail::LoopWorker& worker = *workers_[id.loop()];
  if (worker.on_loop_thread()) return worker.send_here(id, data, kind);
  detail::Command command;
  command.kind = detail::Command::Kind::send;
  command.id = id;
  command.frame = detail::OutFrame(data, kind);
  return workers_[id.loop()]->post(std::move(command));
}

bool ws::Server::close(ConnectionId id, std::uint16_t code, std::string_view reason) {
  if (!id || id.loop() >= workers_.size()) return false;
  detail::LoopWorker& worker = *workers_[id.loop()];
  if (worker.on_loop_thread()) return worker.close_here(id, code, reason);
  detail::Command command;
  command.kind = detail::Command::Kind::close;
  command.id = id;
  command.code = code;
  command.reason = std::string(reason);
  return workers_[id.loop()]->post(std::move(command));
}

bool ws::Server::pause_reading(ConnectionId id, bool paused) {
  if (!id || id.loop() >= workers_.size()) return false;
  detail::LoopWorker& worker = *workers_[id.loop()];
  if (worker.on_loop_thread()) return worker.pause_reading_here(id, paused);
  detail::Command command;
  command.kind = detail::Command::Kind::pause_reading;
  command.id = id;
  command.code = paused ? 1 : 0;
  return worker.post(std::move(command));
}

void ws::Server::shutdown(std::function<void()> on_stopped) {
  std::size_t live = 0;
  {
    std::unique_lock lock(state_mu_);
    if (state_ == State::idle) state_ = State::stopped;
    if (state_ == State::stopped) {
      lock.unlock();
      if (on_stopped) on_stopped();
      return;
    }
    state_ = State::stopping;
    if (on_stopped) on_stopped_.push_back(std::move(on_stopped));
    live = workers_live_;
  }
  // Workers past `live` were never set up; a released one refuses the post.
  for (std::size_t i = 0; i < live && i < workers_.size(); ++i) {
    detail::Command command;
    command.kind = detail::Command::Kind::stop;
    workers_[i]->post(std::move(command));
  }
}

void ws::Server::on_worker_released() {
  {
    std::lock_guard lock(state_mu_);
    if (--workers_live_ > 0) return;
  }
  // Callbacks run before wait_stopped() wakes, since whoever waits may destroy
  // the server; a shutdown() racing with this adds one more round.
  for (;;) {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(state_mu_);
      if (on_stopped_.empty()) {
        state_ = State::stopped;
        state_cv_.notify_all();
        return;
      }
      callbacks.swap(on_stopped_);
    }
    for (auto& callback : callbacks) callback();
  }
}

void ws::Server::wait_stopped() {
  std::unique_lock lock(state_mu_);
  state_cv_.wait(lock, [this] { return state_ == State::stopped || state_ == State::idle; });
}

bool ws::Server::stopped() const {
  std::lock_guard lock(state_mu_);
  return state_ == State::stopped;
}

ws::Counters ws::Server::counters() const {
  return shared_->counters.snapshot();
}

}  // namespace troupe
