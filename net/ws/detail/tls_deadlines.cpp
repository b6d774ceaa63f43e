#include "net/ws/detail/tls_deadlines.hpp"

#include <vector>

namespace troupe::detail {

void TlsDeadlines::init(uv_loop_t* loop) {
  loop_ = loop;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void TlsDeadlines::add(lws* wsi, std::uint64_t deadline_ms) {
  if (closing_ || by_wsi_.count(wsi)) return;
  by_wsi_[wsi] = by_deadline_.emplace(deadline_ms, wsi);
  arm();
}

void TlsDeadlines::forget(lws* wsi) {
  auto it = by_wsi_.find(wsi);
  if (it == by_wsi_.end()) return;
  by_deadline_.erase(it->second);
  by_wsi_.erase(it);
  // The timer may fire for nothing; expire() then re-arms it.
}

void TlsDeadlines::close(std::function<void()> on_closed) {
  closing_ = true;
  by_deadline_.clear();
  by_wsi_.clear();
  on_closed_ = std::move(on_closed);
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
    auto* self = static_cast<TlsDeadlines*>(handle->data);
    if (auto on_closed = std::move(self->on_closed_)) on_closed();
  });
}

void TlsDeadlines::arm() {
  if (by_deadline_.empty()) return;
  const std::uint64_t now = uv_now(loop_);
  const std::uint64_t first = by_deadline_.begin()->first;
  uv_timer_start(&timer_, on_timer, first > now ? first - now : 0, 0);
}

void TlsDeadlines::on_timer(uv_timer_t* handle) {
  static_cast<TlsDeadlines*>(handle->data)->expire();
}

void TlsDeadlines::expire() {
  if (closing_) return;
  const std::uint64_t now = uv_now(loop_);
  std::vector<lws*> late;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    late.push_back(by_deadline_.begin()->second);
    by_wsi_.erase(by_deadline_.begin()->second);
    by_deadline_.erase(by_deadline_.begin());
  }
  // Outside any lws callback, so lws may close them at once; their
  // WSI_DESTROY finds nothing left to forget.
  for (lws* wsi : late) lws_set_timeout(wsi, PENDING_TIMEOUT_SSL_ACCEPT, LWS_TO_KILL_SYNC);
  arm();
}

}  // namespace troupe::detail
