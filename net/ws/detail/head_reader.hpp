#pragma once
// Reads the head of each accepted connection's first HTTP request before
// libwebsockets sees it, and answers with an HTTP status the requests lws's
// parser would drop without a word (it closes the socket on them):
//   - a head (request line and headers) over max_head_bytes       -> 431
//   - a request line that alone does not fit in max_head_bytes    -> 414
//   - more query parameters than lws has room for (its fragment
//     table is shared by headers and parameters)                   -> 414
//   - more header lines than the rest of that table holds          -> 431
//   - "%00" in the request target (lws refuses a decoded NUL)      -> 400
// A head that passes is handed on: when it arrived whole with the
// connection it was only peeked at, and lws reads it from the socket as
// usual; otherwise with the bytes read, which lws then parses as if it had
// read them itself (lws_adopt_socket_vhost_readbuf, much dearer for lws). Later
// requests on a kept-alive connection go to lws directly.
//
// On a TLS port (HeadLimits::tls) the head is encrypted and only lws, after
// the handshake, can read it: the reader then waits for the first byte only,
// peeked, never read. 0x16 (a TLS handshake record) hands the connection on;
// anything else (plain HTTP on the TLS port) is answered 400 in plain text,
// as nginx does, and closed. A client that sends nothing within `timeout` is
// dropped as a slow head is; TlsDeadlines takes over from there.
//
// Loop-thread only. Each pending connection has a poll handle and a timer:
// a head not complete within `timeout` is dropped (slow or silent clients),
// and a refused one is answered, shut for writing and drained for a moment
// so the client reads the answer instead of a reset.

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace troupe::detail {

struct HeadLimits {
  std::size_t max_head_bytes = 4096;
  std::size_t max_query_params = 64;
  std::chrono::milliseconds timeout{5000};
  bool tls = false;
};

// The verdict on a complete head (through "\r\n\r\n") or on bytes that
// already exceed the limit without one: 0 to go on, else an HTTP status.
struct HeadVerdict {
  int status = 0;
  std::string_view body;
};
HeadVerdict judge_head(std::string_view bytes, const HeadLimits& limits);
// On a TLS port: the verdict on the first bytes a client sent (not empty).
HeadVerdict judge_tls_start(std::string_view bytes);

class HeadReader {
 public:
  // on_ready(fd, bytes, accepted_ms): the head passed (on a TLS port: the
  // first byte was a TLS handshake's); the callee owns fd from then on.
  // `bytes` is what was read off the socket: empty when nothing was (always,
  // on a TLS port). accepted_ms: when start() took it, on uv_now's clock.
  // on_refused(status): a head was answered with `status` (may be empty).
  HeadReader(uv_loop_t* loop, HeadLimits limits,
             std::function<void(int fd, std::string bytes, std::uint64_t accepted_ms)> on_ready,
             std::function<void(int status)> on_refused = {});
  HeadReader(const HeadReader&) = delete;
  HeadReader& operator=(const HeadReader&) = delete;

  // Takes ownership of an accepted, non-blocking socket.
  void start(int fd);
  // Drops every pending connection; on_closed runs once libuv has released
  // all their handles (at once if there are none). The reader stays usable
  // only for destruction afterwards.
  void close(std::function<void()> on_closed);
  std::size_t pending() const { return pending_; }

 private:
  struct Pending;
  static void on_readable(uv_poll_t* handle, int status, int events);
  static void on_timeout(uv_timer_t* handle);
  void read_some(Pending& p);
  void refuse(Pending& p, const HeadVerdict& verdict);
  void finish(Pending& p, bool hand_over);
  void on_pending_closed();

  uv_loop_t* loop_;
  HeadLimits limits_;
  std::function<void(int, std::string, std::uint64_t)> on_ready_;
  std::function<void(int)> on_refused_;
  Pending* first_ = nullptr;  // intrusive list of live entries
  std::size_t pending_ = 0;   // entries whose handles are not yet released
  bool closing_ = false;
  std::function<void()> on_closed_;
};

}  // namespace troupe::detail
