#include "net/ws/detail/tls_reloader.hpp"

#include "runtime/log.hpp"

namespace troupe::detail {

TlsReloader::TlsReloader(uv_loop_t* loop, TlsCertificates& certificates, FilesStamp loaded,
                         std::chrono::milliseconds interval, std::function<void(bool)> on_result,
                         std::function<void()> on_closed)
    : certificates_(certificates),
      loaded_(loaded),
      seen_(loaded),
      interval_(interval),
      on_result_(std::move(on_result)),
      on_closed_(std::move(on_closed)) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void TlsReloader::start() {
  const auto ms = static_cast<std::uint64_t>(interval_.count());
  uv_timer_start(&timer_, on_tick, ms, ms);
}

void TlsReloader::close() {
  if (closing_) return;
  closing_ = true;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
    auto* self = static_cast<TlsReloader*>(handle->data);
    auto on_closed = std::move(self->on_closed_);
    delete self;
    if (on_closed) on_closed();
  });
}

void TlsReloader::on_tick(uv_timer_t* handle) {
  static_cast<TlsReloader*>(handle->data)->check();
}

void TlsReloader::check() {
  const std::string& cert_file = certificates_.cert_file();
  const std::string& key_file = certificates_.key_file();
  const FilesStamp now = stamp_files(cert_file, key_file);
  const bool settled = now == seen_;
  seen_ = now;
  if (now == loaded_ || !settled) return;
  // Stamped before reading: a change made while reading is seen next tick.
  loaded_ = now;
  LoadedCertificate next = load_certified_key(cert_file, key_file);
  if (!next.certified) {
    log_error("ws", "TLS certificate not reloaded, the previous one stays in service",
              {{"cert", cert_file}, {"key", key_file}, {"error", next.error}});
    on_result_(false);
    return;
  }
  log_info("ws", "TLS certificate reloaded",
           {{"cert", cert_file}, {"certificate", next.certified->description()}});
  certificates_.replace(std::move(next.certified));
  on_result_(true);
}

}  // namespace troupe::detail
