#pragma once
// Reloads a TLS server's certificate when its files change, without a
// restart: new handshakes on every loop get the new certificate, connections
// already open keep theirs. A replacement that cannot be used (unreadable,
// not PEM, a key that is not the certificate's) is logged as an error and
// the old certificate stays in service.
//
// The files are stat()ed every `interval` (symbolic links followed, so a
// switched link counts, as certbot's renewals do). A change is loaded once
// the files have stayed the same for one more interval, so that a writer who
// replaces the certificate and then the key is not caught halfway. A failed
// load is not retried until the files change again.
//
// Loop-thread object, created with new, like Listener: close() stops it and
// it deletes itself once libuv has released its timer, then calls on_closed.

#include <uv.h>

#include <chrono>
#include <functional>

#include "net/ws/detail/tls_context.hpp"

namespace troupe::detail {

class TlsReloader {
 public:
  // `loaded`: the files' stamp taken before the certificate in service was
  // read. on_result(true) after a reload, (false) after a failed one.
  TlsReloader(uv_loop_t* loop, TlsCertificates& certificates, FilesStamp loaded,
              std::chrono::milliseconds interval, std::function<void(bool)> on_result,
              std::function<void()> on_closed);
  void start();
  void close();

 private:
  ~TlsReloader() = default;
  static void on_tick(uv_timer_t* handle);
  void check();

  uv_timer_t timer_{};
  TlsCertificates& certificates_;
  FilesStamp loaded_;
  FilesStamp seen_;  // at the previous tick
  std::chrono::milliseconds interval_;
  bool closing_ = false;
  std::function<void(bool)> on_result_;
  std::function<void()> on_closed_;
};

}  // namespace troupe::detail
