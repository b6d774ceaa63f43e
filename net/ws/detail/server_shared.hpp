#pragma once
// State every loop of one ws::Server reads: configuration (immutable once
// started), counters and connection limits (thread-safe).

#include <libwebsockets.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/ws/counters.hpp"
#include "net/ws/detail/tls_context.hpp"
#include "net/ws/handler.hpp"
#include "net/ws/http.hpp"
#include "net/ws/options.hpp"

namespace troupe::detail {

struct RouteEntry {
  std::string prefix;  // "/rooms"
  std::shared_ptr<ws::Handler> handler;
  ws::RouteLimits options;
};

struct AtomicCounters {
  std::atomic<std::uint64_t> tcp_accepted{0}, connections_opened{0}, connections_open{0},
      upgrades_refused{0}, http_requests{0}, frames_in{0}, frames_out{0}, bytes_in{0}, bytes_out{0},
      frames_dropped{0}, closed_for_overflow{0}, closed_for_size{0};
  std::atomic<std::uint64_t> invalid_text_refused{0}, origin_refused{0}, host_refused{0},
      heads_refused{0};
  std::atomic<std::uint64_t> throttled{0}, closed_for_rate{0};
  std::atomic<std::uint64_t> tls_reloads{0}, tls_reload_failures{0};
  std::atomic<std::uint64_t> outbound_bytes{0};  // a gauge: LoopWorker::account keeps it

  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) {
    c.fetch_add(by, std::memory_order_relaxed);
  }
  ws::Counters snapshot() const;
};

// Admission counts for max_connections and max_connections_per_name. A slot is
// reserved when an upgrade is admitted and released when its wsi is destroyed,
// so upgrades in progress count too.
class ConnectionLimits {
 public:
  enum class Verdict { reserved, server_full, name_full };

  explicit ConnectionLimits(std::size_t max_total) : max_total_(max_total) {}
  Verdict try_reserve(const std::string& key, std::size_t max_per_key);
  void release(const std::string& key);

 private:
  std::mutex mu_;
  std::size_t max_total_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_key_;
};

// realpath(dir), or empty when it does not resolve (static_files.cpp).
std::string resolve_static_root(const std::string& dir);

struct ServerShared {
  explicit ServerShared(ws::Options opts);

  // Longest registered prefix p such that path starts with p + "/"; sets
  // `name` to the rest. Null when none matches.
  const RouteEntry* match_route(std::string_view path, std::string_view& name) const;
  const HttpHandler* http_handler(std::string_view path) const;

  ws::Options options;
  std::vector<RouteEntry> routes;
  std::unordered_map<std::string, HttpHandler> http_handlers;
  AtomicCounters counters;
  ConnectionLimits limits;

  // lws keeps pointers to these for the life of every context.
  lws_protocols protocols[2];
  lws_retry_bo_t retry_policy;
  std::uint32_t retry_table[1] = {1000};
  std::vector<lws_protocol_vhost_options> mimetypes;
  lws_http_mount mount;     // not given to lws: only its mimetypes are used
  std::string static_root;  // static_dir, resolved; empty serves no file

  // Set by start() when Options has a certificate: what every loop's
  // handshakes use, and the files' stamp when it was read.
  std::unique_ptr<TlsCertificates> tls;
  FilesStamp tls_stamp;
  // Given to every lws context as its client SSL_CTX, which the server never
  // uses: otherwise each context makes its own, loading the system's CA
  // store (0.7 MB), and lws 4.1.6 leaks all but the last one made in the
  // process (their refcount sits at an ex_data index that the next context's
  // TLS init replaces). lws does not free a provided one: this does.
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tls_unused_client{nullptr, SSL_CTX_free};
};

}  // namespace troupe::detail
