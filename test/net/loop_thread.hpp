#pragma once
// Test support: a libuv loop run by its own thread, standing in for one of the
// runtime's scheduler loops, with the post() hook ws::Server expects.

#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "net/ws/server.hpp"

namespace troupe::test {

class LoopThread {
 public:
  LoopThread();
  ~LoopThread();  // joins if join() was not called (then the loop may leak)

  uv_loop_t* loop() { return &loop_; }
  // Any thread: runs fn on the loop thread.
  void post(std::function<void()> fn);
  ws::EventLoop event_loop();
  // Closes the post handle and waits for uv_run to return, i.e. for every
  // other handle to be closed too; returns uv_loop_close()'s result.
  int join();

 private:
  static void on_async(uv_async_t* handle);

  uv_loop_t loop_{};
  uv_async_t async_{};
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  bool closing_ = false;
  std::thread thread_;
  bool joined_ = false;
};

}  // namespace troupe::test
