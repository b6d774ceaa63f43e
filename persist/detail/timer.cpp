#include "persist/detail/timer.hpp"

#include <stdexcept>
#include <string>

namespace troupe::detail {

Timer::Timer(uv_loop_t* loop) : handle_(new Handle) {
  if (int rc = uv_timer_init(loop, &handle_->timer); rc != 0) {
    delete handle_;
    throw std::runtime_error(std::string("uv_timer_init: ") + uv_strerror(rc));
  }
  handle_->timer.data = handle_;
}

Timer::~Timer() {
  close();
}

void Timer::start(std::uint64_t timeout_ms, std::function<void()> fn, std::uint64_t repeat_ms) {
  if (!handle_) throw std::logic_error("Timer::start after close");
  handle_->fn = std::move(fn);
  uv_timer_start(
      &handle_->timer,
      [](uv_timer_t* t) {
        // Copied: fn may restart this timer, replacing the stored function.
        auto fn = static_cast<Handle*>(t->data)->fn;
        fn();
      },
      timeout_ms, repeat_ms);
}

void Timer::stop() {
  if (handle_) uv_timer_stop(&handle_->timer);
}

void Timer::close() {
  if (!handle_) return;
  handle_->fn = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->timer),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
  handle_ = nullptr;
}

}  // namespace troupe::detail
