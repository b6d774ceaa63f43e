#pragma once
// The handshake deadline of TLS connections. A plain connection's request
// head is read by the HeadReader, within ws::Options::handshake_timeout of
// its accept; a TLS connection's head can only be read by libwebsockets,
// after the TLS handshake, and lws restarts its own timeout at each step
// (TLS accept, then the head), so a client feeding it a byte at a time could
// hold the connection for several timeouts. This holds each TLS connection
// lws adopted to the one deadline, from its accept to its parsed head.
//
// Loop-thread only. init() before use; close() once, when the worker closes
// its handles (on_closed then runs when libuv has released the timer).

#include <libwebsockets.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

namespace troupe::detail {

class TlsDeadlines {
 public:
  void init(uv_loop_t* loop);
  // `wsi` is dropped at `deadline_ms` (uv_now's clock) unless forgotten first.
  void add(lws* wsi, std::uint64_t deadline_ms);
  // Its head was parsed, or it is being destroyed.
  void forget(lws* wsi);
  void close(std::function<void()> on_closed);
  std::size_t size() const { return by_wsi_.size(); }

 private:
  static void on_timer(uv_timer_t* handle);
  void expire();
  void arm();

  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_{};
  bool closing_ = false;
  std::multimap<std::uint64_t, lws*> by_deadline_;
  std::unordered_map<lws*, std::multimap<std::uint64_t, lws*>::iterator> by_wsi_;
  std::function<void()> on_closed_;
};

}  // namespace troupe::detail
