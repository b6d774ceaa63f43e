#pragma once
// The server's listening socket: opened on any thread, then watched on one
// loop, which accepts every pending connection and hands each fd on.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

namespace troupe::detail {

// Creates a non-blocking, close-on-exec TCP socket bound to address:port and
// listening. Sets `fd` and `bound_port` on success.
std::error_code open_listen_socket(const std::string& address, std::uint16_t port, int backlog,
                                   int& fd, std::uint16_t& bound_port);

// The default of ws::Options::max_connections (0): the process's
// RLIMIT_NOFILE soft limit less a reserve for stores, files, logs and the
// loops' own descriptors, so that "server full" (503) comes before the
// process runs out of descriptors.
std::size_t connections_for_fd_limit();

// Loop-thread object, created with new. Owns the socket from start() on;
// close() stops accepting, and the object deletes itself and closes the socket
// once libuv has released its handles, then calls on_closed. A start()
// that fails has already begun that same close: do not touch the object again.
//
// Out of descriptors (EMFILE, ENFILE), accept() leaves the connection pending
// and the level-triggered socket readable: polling on would spin. The
// listener then gives up a reserve descriptor (/dev/null, kept open) to
// accept the pending connections one at a time, answer each 503 and close
// it, takes the reserve back, and stops polling for pause_after_exhaustion.
class Listener {
 public:
  Listener(uv_loop_t* loop, int fd, std::function<void(int)> on_accept,
           std::function<void()> on_closed);
  std::error_code start();
  void close();

  static constexpr std::uint64_t pause_after_exhaustion_ms = 100;

 private:
  ~Listener() = default;
  static void on_readable(uv_poll_t* handle, int status, int events);
  static void on_resume(uv_timer_t* handle);
  static void on_handle_closed(uv_handle_t* handle);
  void shed_pending();

  uv_poll_t poll_{};
  uv_timer_t resume_{};
  int open_handles_ = 0;
  uv_loop_t* loop_;
  int fd_;
  int reserve_fd_ = -1;
  bool closing_ = false;
  std::function<void(int)> on_accept_;
  std::function<void()> on_closed_;
};

}  // namespace troupe::detail
