#pragma once
// The server's listening socket: opened on any thread, then watched on one
// loop, which accepts every pending connection and hands each fd on.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

namespace troupe::detail {

// Creates a non-blocking, close-on-exec TCP socket bound to address:port and
// listening. Sets `fd` and `bound_port` on success.
std::error_code open_listen_socket(const std::string& address, std::uint16_t port, int backlog,
                                   int& fd, std::uint16_t& bound_port);

// Loop-thread object, created with new. Owns the socket from start() on;
// close() stops accepting, and the object deletes itself and closes the socket
// once libuv has released the poll handle, then calls on_closed. A start()
// that fails has already begun that same close: do not touch the object again.
class Listener {
 public:
  Listener(uv_loop_t* loop, int fd, std::function<void(int)> on_accept,
           std::function<void()> on_closed);
  std::error_code start();
  void close();

 private:
  ~Listener() = default;
  static void on_readable(uv_poll_t* handle, int status, int events);

  uv_poll_t poll_{};
  uv_loop_t* loop_;
  int fd_;
  std::function<void(int)> on_accept_;
  std::function<void()> on_closed_;
};

}  // namespace troupe::detail
