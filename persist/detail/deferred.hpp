#pragma once
// Deferred: runs callbacks on a later turn of a uv loop. Stores use it to keep
// their promise that a callback never runs inside the call that issued the
// operation, even when the answer is known at once (a bad argument, a store
// that is down, an in-memory lookup).
//
// Loop thread only. close(done) runs what is still queued, then closes the
// libuv handle; destroy the Deferred after done.

#include <uv.h>

#include <deque>
#include <functional>

namespace troupe::detail {

class Deferred {
 public:
  explicit Deferred(uv_loop_t* loop);
  ~Deferred();
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  void post(std::function<void()> fn);
  void close(std::function<void()> done);
  bool closed() const { return closing_; }

 private:
  static void on_idle(uv_idle_t* handle);
  void drain();

  // Heap-allocated so that it outlives this object until libuv's close
  // callback, whatever order the owner tears down in.
  uv_idle_t* idle_;
  std::deque<std::function<void()>> queue_;
  std::function<void()> on_closed_;
  bool closing_ = false;
};

}  // namespace troupe::detail
