#pragma once
// Timer: a uv_timer_t owned by an object that may be destroyed before libuv
// has run the handle's close callback. The handle lives on the heap and frees
// itself; the owner only has to call close() (or let the destructor do it).
// Loop thread only.

#include <uv.h>

#include <cstdint>
#include <functional>

namespace troupe::detail {

class Timer {
 public:
  explicit Timer(uv_loop_t* loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer: fn runs after timeout_ms, then every repeat_ms if set.
  void start(std::uint64_t timeout_ms, std::function<void()> fn, std::uint64_t repeat_ms = 0);
  void stop();
  void close();

 private:
  struct Handle {
    uv_timer_t timer;
    std::function<void()> fn;
  };
  Handle* handle_;
};

}  // namespace troupe::detail
