// Per-connection rate limits (ws::RouteLimits::rate_limit) on one loop: a
// connection over its rate stops being read (lws_rx_flow_control) until its
// buckets refill; one timer per loop resumes the paused connections in turn.

#include <algorithm>

#include "net/ws/detail/loop_worker.hpp"

namespace troupe::detail {

bool LoopWorker::admit_rate(PeerState& peer, std::size_t bytes) {
  const std::uint64_t now = uv_now(loop_);
  if (!peer.rate_ready) {
    peer.rate = RateLimiter(peer.route->options.rate_limit, now);
    peer.rate_ready = true;
  }
  if (!peer.rate.enabled()) return true;
  switch (peer.rate.on_message(bytes, now)) {
    case RateLimiter::Verdict::within:
      return true;
    case RateLimiter::Verdict::close:
      AtomicCounters::bump(shared_.counters.closed_for_rate);
      peer.inbound.clear();
      close_now(peer, close_code::policy_violation, "rate limit exceeded");
      return false;
    case RateLimiter::Verdict::slow:
      break;
  }
  // This message is delivered; the next ones wait in the client's socket.
  AtomicCounters::bump(shared_.counters.throttled);
  peer.resume_at_ms = peer.rate.resume_at(now);
  if (!peer.rx_paused) {
    peer.rx_paused = true;
    lws_rx_flow_control(peer.wsi, 0);
    throttled_.push_back(&peer);
  }
  arm_throttle_timer();
  return true;
}

void LoopWorker::arm_throttle_timer() {
  if (throttled_.empty()) {
    uv_timer_stop(&throttle_timer_);
    return;
  }
  std::uint64_t earliest = throttled_.front()->resume_at_ms;
  for (const PeerState* peer : throttled_) earliest = std::min(earliest, peer->resume_at_ms);
  const std::uint64_t now = uv_now(loop_);
  uv_timer_start(&throttle_timer_, on_throttle_timer, earliest > now ? earliest - now : 0, 0);
}

void LoopWorker::on_throttle_timer(uv_timer_t* handle) {
  static_cast<LoopWorker*>(handle->data)->resume_throttled(false);
}

void LoopWorker::resume_throttled(bool all) {
  const std::uint64_t now = uv_now(loop_);
  std::vector<PeerState*> due;
  std::erase_if(throttled_, [&](PeerState* peer) {
    if (!all && peer->resume_at_ms > now) return false;
    due.push_back(peer);
    return true;
  });
  for (PeerState* peer : due) {
    peer->rx_paused = false;
    if (peer->wsi) lws_rx_flow_control(peer->wsi, 1);
  }
  if (phase_ == Phase::serving) arm_throttle_timer();
}

void LoopWorker::forget_throttled(PeerState* peer) {
  std::erase(throttled_, peer);
  peer->rx_paused = false;
}

}  // namespace troupe::detail
