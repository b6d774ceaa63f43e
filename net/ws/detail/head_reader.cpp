#include "net/ws/detail/head_reader.hpp"

#include <libwebsockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "net/ws/detail/request_checks.hpp"

namespace troupe::detail {
namespace {

// After answering a refused head, how long its leftover input is drained.
constexpr std::chrono::milliseconds drain_time{1000};

std::size_t count_of(std::string_view text, std::string_view chars) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [&](char c) { return chars.find(c) != std::string_view::npos; }));
}

bool contains_encoded_nul(std::string_view target) {
  for (std::size_t i = 0; i + 2 < target.size(); ++i) {
    if (target[i] == '%' && target[i + 1] == '0' && target[i + 2] == '0') return true;
  }
  return false;
}

}  // namespace

HeadVerdict judge_head(std::string_view bytes, const HeadLimits& limits) {
  const auto line_end = bytes.find("\r\n");
  if (line_end == std::string_view::npos || line_end > limits.max_head_bytes) {
    return bytes.size() > limits.max_head_bytes ? HeadVerdict{414, "request line too long"}
                                                : HeadVerdict{};
  }
  const std::string_view line = bytes.substr(0, line_end);
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  const std::string_view target = first_space < last_space
                                      ? line.substr(first_space + 1, last_space - first_space - 1)
                                      : std::string_view{};
  if (contains_encoded_nul(target)) return {400, "NUL (%00) in the request target"};
  const auto question = target.find('?');
  const std::size_t params =
      question == std::string_view::npos ? 0 : 1 + count_of(target.substr(question + 1), "&;");
  if (params > limits.max_query_params) return {414, "too many query parameters"};

  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos || head_end + 4 > limits.max_head_bytes) {
    return bytes.size() > limits.max_head_bytes || head_end != std::string_view::npos
               ? HeadVerdict{431, "request headers too large"}
               : HeadVerdict{};
  }
  // lws keeps every query parameter and every (known) header line in one
  // table of WSI_TOKEN_COUNT fragments and drops the request when it is full.
  const std::size_t header_lines = count_of(bytes.substr(line_end, head_end - line_end), "\n");
  if (params + header_lines + 4 > static_cast<std::size_t>(WSI_TOKEN_COUNT)) {
    return {431, "too many header lines"};
  }
  return {};
}

HeadVerdict judge_tls_start(std::string_view bytes) {
  // 0x16: the content type of a TLS handshake record, the ClientHello's.
  if (!bytes.empty() && bytes[0] == 0x16) return {};
  return {400, "this port speaks TLS only: use wss:// or https://"};
}

struct HeadReader::Pending {
  HeadReader* owner = nullptr;
  int fd = -1;
  std::uint64_t accepted_ms = 0;
  uv_poll_t poll{};
  uv_timer_t timer{};
  std::string bytes;
  bool draining = false;  // refused: answered, reading to EOF or the timer
  bool done = false;      // handles closing
  bool hand_over = false;
  int open_handles = 2;
  Pending* prev = nullptr;
  Pending* next = nullptr;
};

HeadReader::HeadReader(uv_loop_t* loop, HeadLimits limits,
                       std::function<void(int, std::string, std::uint64_t)> on_ready,
                       std::function<void(int)> on_refused)
    : loop_(loop),
      limits_(limits),
      on_ready_(std::move(on_ready)),
      on_refused_(std::move(on_refused)) {}

void HeadReader::start(int fd) {
  if (closing_) {
    ::close(fd);
    return;
  }
  // Fast path: a head that came with the connection (the usual case when
  // the loop is busy) is judged from a peek, with no poll handle or timer,
  // and lws then reads it from the socket itself: adopting a socket with
  // bytes already read costs lws far more (measured: connects/s -40 %).
  const std::uint64_t accepted_ms = uv_now(loop_);
  HeadVerdict verdict;
  char chunk[4096];
  ssize_t n;
  do {
    n = ::recv(fd, chunk, limits_.tls ? 1 : sizeof(chunk), MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    ::close(fd);  // gone before it asked anything
    return;
  }
  if (n > 0 && limits_.tls) {
    verdict = judge_tls_start(std::string_view(chunk, 1));
    if (verdict.status == 0) return on_ready_(fd, std::string(), accepted_ms);
  } else if (n > 0) {
    const std::string_view peeked(chunk, static_cast<std::size_t>(n));
    const bool complete = peeked.find("\r\n\r\n") != std::string_view::npos;
    if (complete || peeked.size() > limits_.max_head_bytes) {
      verdict = judge_head(peeked, limits_);
      if (verdict.status == 0 && complete) return on_ready_(fd, std::string(), accepted_ms);
    }
  }
  auto* p = new Pending;
  p->owner = this;
  p->fd = fd;
  p->accepted_ms = accepted_ms;
  if (uv_poll_init_socket(loop_, &p->poll, fd) != 0) {
    ::close(fd);
    delete p;
    return;
  }
  uv_timer_init(loop_, &p->timer);
  p->poll.data = p;
  p->timer.data = p;
  p->next = first_;
  if (first_) first_->prev = p;
  first_ = p;
  ++pending_;
  uv_timer_start(&p->timer, on_timeout, static_cast<std::uint64_t>(limits_.timeout.count()), 0);
  if (uv_poll_start(&p->poll, UV_READABLE, on_readable) != 0) return finish(*p, false);
  if (verdict.status != 0) refuse(*p, verdict);
}

void HeadReader::on_readable(uv_poll_t* handle, int status, int) {
  auto* p = static_cast<Pending*>(handle->data);
  if (p->done) return;
  if (status < 0) return p->owner->finish(*p, false);
  p->owner->read_some(*p);
}

void HeadReader::on_timeout(uv_timer_t* handle) {
  auto* p = static_cast<Pending*>(handle->data);
  if (!p->done) p->owner->finish(*p, false);
}

void HeadReader::read_some(Pending& p) {
  char chunk[4096];
  if (limits_.tls && !p.draining) {
    // Peeked: lws's TLS accept reads the ClientHello itself.
    ssize_t n;
    do {
      n = ::recv(p.fd, chunk, 1, MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return finish(p, false);
    const HeadVerdict verdict = judge_tls_start(std::string_view(chunk, 1));
    if (verdict.status != 0) return refuse(p, verdict);
    return finish(p, true);
  }
  for (;;) {
    std::size_t want = sizeof(chunk);
    if (!p.draining) want = std::min(want, limits_.max_head_bytes + 1 - p.bytes.size());
    const ssize_t n = ::recv(p.fd, chunk, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return finish(p, false);  // EOF or error
    if (p.draining) continue;
    // The head may end in the previous chunk's last bytes: search from there.
    const std::size_t from = p.bytes.size() < 3 ? 0 : p.bytes.size() - 3;
    p.bytes.append(chunk, static_cast<std::size_t>(n));
    const bool complete = p.bytes.find("\r\n\r\n", from) != std::string::npos;
    if (!complete && p.bytes.size() <= limits_.max_head_bytes) continue;
    const HeadVerdict verdict = judge_head(p.bytes, limits_);
    if (verdict.status != 0) return refuse(p, verdict);
    if (complete) return finish(p, true);
  }
}

void HeadReader::refuse(Pending& p, const HeadVerdict& verdict) {
  if (on_refused_) on_refused_(verdict.status);  // counted before the client can see it
  const std::string body = std::string(verdict.body) + "\n";
  const std::string response = "HTTP/1.1 " + std::to_string(verdict.status) + " " +
                               status_text(verdict.status) +
                               "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  // Small enough for an empty socket buffer; a client that filled its own
  // receive window before asking gets less, and the close.
  [[maybe_unused]] const ssize_t sent =
      ::send(p.fd, response.data(), response.size(), MSG_NOSIGNAL);
  ::shutdown(p.fd, SHUT_WR);
  // Closing with unread input would reset the connection, and the client
  // could lose the answer: read what is left for a moment first.
  p.draining = true;
  p.bytes.clear();
  uv_timer_start(&p.timer, on_timeout, static_cast<std::uint64_t>(drain_time.count()), 0);
}

void HeadReader::finish(Pending& p, bool hand_over) {
  if (p.done) return;
  p.done = true;
  p.hand_over = hand_over;
  if (p.prev) p.prev->next = p.next;
  if (p.next) p.next->prev = p.prev;
  if (first_ == &p) first_ = p.next;
  uv_timer_stop(&p.timer);
  // Closing the poll handle takes the fd out of epoll at once, so lws can
  // watch it right away.
  const auto closed = [](uv_handle_t* handle) {
    auto* pending = static_cast<Pending*>(handle->data);
    if (--pending->open_handles > 0) return;
    HeadReader* owner = pending->owner;
    delete pending;
    owner->on_pending_closed();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&p.poll), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&p.timer), closed);
  if (hand_over) {
    on_ready_(p.fd, std::move(p.bytes), p.accepted_ms);
  } else {
    ::close(p.fd);
  }
  p.fd = -1;
}

void HeadReader::on_pending_closed() {
  if (--pending_ == 0 && closing_ && on_closed_) {
    auto on_closed = std::move(on_closed_);
    on_closed();  // may destroy this reader
  }
}

void HeadReader::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  while (first_) finish(*first_, false);
  if (pending_ == 0 && on_closed_) {
    auto callback = std::move(on_closed_);
    callback();
  }
}

}  // namespace troupe::detail
