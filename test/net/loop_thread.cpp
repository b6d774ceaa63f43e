#include "test/net/loop_thread.hpp"

namespace troupe::test {

LoopThread::LoopThread() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, on_async);
  async_.data = this;
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

LoopThread::~LoopThread() {
  if (!joined_) join();
}

void LoopThread::post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (closing_) return;
  queue_.push_back(std::move(fn));
  uv_async_send(&async_);
}

ws::EventLoop LoopThread::event_loop() {
  return ws::EventLoop{&loop_, [this](std::function<void()> fn) {
                         post(std::move(fn));
                       }};
}

void LoopThread::on_async(uv_async_t* handle) {
  auto* self = static_cast<LoopThread*>(handle->data);
  std::deque<std::function<void()>> batch;
  bool close = false;
  {
    std::lock_guard lock(self->mu_);
    batch.swap(self->queue_);
    close = self->closing_;
  }
  for (auto& fn : batch) fn();
  if (close && !uv_is_closing(reinterpret_cast<uv_handle_t*>(handle))) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
}

int LoopThread::join() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    uv_async_send(&async_);
  }
  thread_.join();
  joined_ = true;
  return uv_loop_close(&loop_);
}

}  // namespace troupe::test
