#include "net/ws/detail/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace troupe::detail {
namespace {

std::error_code last_error() {
  return {errno, std::system_category()};
}

// Accepting more than this per wake-up would let a connection storm starve
// the rest of the loop; the poll handle fires again for the remainder.
constexpr int max_accepts_per_wake = 64;

}  // namespace

std::error_code open_listen_socket(const std::string& address, std::uint16_t port, int backlog,
                                   int& fd, std::uint16_t& bound_port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(*v6);
  } else {
    return std::make_error_code(std::errc::invalid_argument);
  }

  const int s = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return last_error();
  const int on = 1;
  // SO_REUSEADDR lets a restarted server bind while old connections sit in
  // TIME_WAIT; it does not let two live listeners share the port.
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (storage.ss_family == AF_INET6) ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  if (::bind(s, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(s, backlog) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    const auto error = last_error();
    ::close(s);
    return error;
  }
  bound_port = ntohs(storage.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  fd = s;
  return {};
}

std::size_t connections_for_fd_limit() {
  constexpr std::size_t ceiling = 100000;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return ceiling;
  const auto soft = static_cast<std::size_t>(limit.rlim_cur);
  // Stores (a FileStore opens a file per operation), static files, logs,
  // the loops' epoll and wake-up descriptors, sockets in their handshake.
  const std::size_t reserve = std::min<std::size_t>(1024, 64 + soft / 16);
  const std::size_t budget = soft > 2 * reserve ? soft - reserve : soft / 2;
  return std::max<std::size_t>(1, std::min(ceiling, budget));
}

Listener::Listener(uv_loop_t* loop, int fd, std::function<void(int)> on_accept,
                   std::function<void()> on_closed)
    : loop_(loop), fd_(fd), on_accept_(std::move(on_accept)), on_closed_(std::move(on_closed)) {}

std::error_code Listener::start() {
  int rc = uv_poll_init_socket(loop_, &poll_, fd_);
  if (rc != 0) {
    // The handle never joined the loop: nothing for libuv to release.
    ::close(fd_);
    auto on_closed = std::move(on_closed_);
    delete this;
    if (on_closed) on_closed();
    return {-rc, std::system_category()};
  }
  poll_.data = this;
  open_handles_ = 1;
  uv_timer_init(loop_, &resume_);
  resume_.data = this;
  ++open_handles_;
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  rc = uv_poll_start(&poll_, UV_READABLE, on_readable);
  if (rc != 0) {
    close();
    return {-rc, std::system_category()};
  }
  return {};
}

void Listener::close() {
  if (closing_) return;
  closing_ = true;
  uv_poll_stop(&poll_);
  uv_timer_stop(&resume_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&resume_), on_handle_closed);
}

void Listener::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<Listener*>(handle->data);
  if (--self->open_handles_ > 0) return;
  ::close(self->fd_);
  if (self->reserve_fd_ >= 0) ::close(self->reserve_fd_);
  auto on_closed = std::move(self->on_closed_);
  delete self;
  if (on_closed) on_closed();
}

void Listener::on_readable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Listener*>(handle->data);
  if (status < 0) return;
  for (int i = 0; i < max_accepts_per_wake; ++i) {
    const int fd = ::accept4(self->fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        self->shed_pending();
      }
      return;  // EAGAIN: poll fires again when another connection comes
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    self->on_accept_(fd);
  }
}

namespace {

constexpr std::string_view no_descriptors_response =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 12\r\nConnection: close\r\nRetry-After: 1\r\n\r\nserver full\n";

}  // namespace

void Listener::shed_pending() {
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    // Each accepted connection frees its descriptor again when closed.
    for (int i = 0; i < max_accepts_per_wake; ++i) {
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        break;
      }
      // Best effort: a fresh socket's send buffer takes it whole.
      [[maybe_unused]] const auto sent =
          ::send(fd, no_descriptors_response.data(), no_descriptors_response.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  // Level-triggered: a pending connection keeps the socket readable, so stop
  // watching it for a while instead of spinning.
  uv_poll_stop(&poll_);
  uv_timer_start(&resume_, on_resume, pause_after_exhaustion_ms, 0);
}

void Listener::on_resume(uv_timer_t* handle) {
  auto* self = static_cast<Listener*>(handle->data);
  if (self->closing_) return;
  uv_poll_start(&self->poll_, UV_READABLE, on_readable);
}

}  // namespace troupe::detail
