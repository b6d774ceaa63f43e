#pragma once
// Counters of a ws::Server for metrics. A snapshot is read from relaxed
// atomics, so it may be read from any thread at any time; the fields are not
// one consistent cut of the server's state.

#include <cstdint>

#include "runtime/export.hpp"

namespace troupe::ws {

struct TROUPE_EXPORT Counters {
  std::uint64_t tcp_accepted = 0;         // sockets accepted (HTTP and WebSocket)
  std::uint64_t connections_opened = 0;   // upgrades completed
  std::uint64_t connections_open = 0;     // open WebSocket connections now
  std::uint64_t upgrades_refused = 0;     // upgrades answered with an HTTP error
  std::uint64_t http_requests = 0;        // requests answered by an HttpHandler
  std::uint64_t frames_in = 0;            // whole messages received
  std::uint64_t frames_out = 0;           // whole messages handed to the socket
  std::uint64_t bytes_in = 0;             // message payload bytes received
  std::uint64_t bytes_out = 0;            // message payload bytes sent
  std::uint64_t frames_dropped = 0;       // dropped by OverflowPolicy::drop_oldest
  std::uint64_t closed_for_overflow = 0;  // closed with 1008 by OverflowPolicy::close
  std::uint64_t closed_for_size = 0;      // closed with 1009
  // Text messages send() refused because they were not valid UTF-8.
  std::uint64_t invalid_text_refused = 0;
  // Requests refused by the Origin or Host check (403 / 421).
  std::uint64_t origin_refused = 0;
  std::uint64_t host_refused = 0;
  // Request heads answered 400/414/431 before lws parsed them (oversize, %00).
  std::uint64_t heads_refused = 0;
  std::uint64_t throttled = 0;        // times a connection over its rate was slowed
  std::uint64_t closed_for_rate = 0;  // closed with 1008 for staying over its rate
  std::uint64_t outbound_bytes = 0;   // held for slow readers now (max_total_outbound_bytes)
  // TLS: certificate files reloaded after a change, and changes that could
  // not be used (the previous certificate stayed in service).
  std::uint64_t tls_reloads = 0;
  std::uint64_t tls_reload_failures = 0;
};

}  // namespace troupe::ws
