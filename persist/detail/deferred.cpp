#include "persist/detail/deferred.hpp"

#include <stdexcept>

namespace troupe::detail {

Deferred::Deferred(uv_loop_t* loop) : idle_(new uv_idle_t) {
  if (int rc = uv_idle_init(loop, idle_); rc != 0) {
    delete idle_;
    throw std::runtime_error(std::string("uv_idle_init: ") + uv_strerror(rc));
  }
  idle_->data = this;
}

Deferred::~Deferred() {
  // Not closed (e.g. an owner that never opened): close now; the handle frees
  // itself once the loop runs its close callbacks.
  if (closing_) {
    // Destroyed before the close callback ran: let it free the handle alone.
    if (idle_) idle_->data = nullptr;
  } else {
    idle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(idle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  }
}

void Deferred::post(std::function<void()> fn) {
  if (closing_) throw std::logic_error("Deferred::post after close");
  queue_.push_back(std::move(fn));
  uv_idle_start(idle_, on_idle);
}

void Deferred::on_idle(uv_idle_t* handle) {
  if (auto* self = static_cast<Deferred*>(handle->data)) self->drain();
}

void Deferred::drain() {
  // Only what was queued before this turn: callbacks that post again run on
  // the next turn, so a chain of posts cannot starve the loop's I/O.
  auto n = queue_.size();
  while (n-- > 0 && !queue_.empty()) {
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    fn();
  }
  if (queue_.empty()) uv_idle_stop(idle_);
}

void Deferred::close(std::function<void()> done) {
  if (closing_) throw std::logic_error("Deferred::close twice");
  while (!queue_.empty()) {
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    fn();
  }
  closing_ = true;
  on_closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), [](uv_handle_t* h) {
    auto* self = static_cast<Deferred*>(h->data);
    delete reinterpret_cast<uv_idle_t*>(h);
    if (self) {
      self->idle_ = nullptr;
      if (self->on_closed_) std::move(self->on_closed_)();
    }
  });
}

}  // namespace troupe::detail
