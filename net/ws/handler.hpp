#pragma once
// The contract between the WebSocket server and whatever serves a route (the
// session-actor layer, a test echo, ...). A route is a path prefix such as
// "/rooms"; a client opens ws://host:port/rooms/<name>.
//
// Threading: every callback of a handler runs on the loop thread that owns the
// connection (see ConnectionId::loop), never concurrently for one connection,
// but concurrently across connections on different loops: a handler shared by
// several loops must be thread-safe. Callbacks must not block the loop. They
// may call ws::Server::send()/close() for any connection. An exception
// escaping a callback closes that connection with 1011.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "net/ws/types.hpp"
#include "runtime/export.hpp"

namespace troupe {

// The answer of ws::Handler::authorize: admit, or refuse with an HTTP status
// (401, 403, 503, ...) sent before the upgrade, so the client never connects.
struct TROUPE_EXPORT Admission {
  int status = 0;    // 0 admits; otherwise the HTTP status of the refusal
  std::string body;  // short text/plain body for the refusal

  static Admission admit() { return {}; }
  static Admission reject(int status, std::string body = {}) { return {status, std::move(body)}; }
  bool admitted() const { return status == 0; }
};

namespace ws {

class TROUPE_EXPORT Handler {
 public:
  virtual ~Handler() = default;

  // Before the upgrade, after the server's own checks (path, name, Origin,
  // connection limits) passed. Runs with the request's path, query, headers and
  // cookies; the layer above may also refuse here (e.g. its actor is full).
  virtual Admission authorize(const HttpRequest&) { return Admission::admit(); }

  // The upgrade completed. `request` is the one authorize() saw.
  virtual void on_open(ConnectionId, const HttpRequest& request) = 0;

  // One whole message (fragments reassembled, at most max_message_bytes).
  // `data` is valid only during the call.
  virtual void on_message(ConnectionId, std::string_view data, MessageKind) = 0;

  // Called exactly once per opened connection, as soon as it is closing: with
  // the code this side sent (close(), limits, shutdown), the code the peer sent
  // (1005 if it sent none), or 1006 when the connection ended without either
  // (transport drop, heartbeat timeout, a protocol error lws answered itself).
  // After this, send()/close() for the id are ignored.
  virtual void on_close(ConnectionId, std::uint16_t code, std::string_view reason) = 0;
};

// How fast one connection may send (token buckets: a rate, and a burst it
// may spend at once). A client over its rate is slowed: the server stops
// reading its socket until the buckets refill, so its messages wait in its
// own socket buffers (and TCP pushes back on it) instead of in the session's
// mailbox ahead of everyone else's. One that stays over its rate for
// close_after is closed with 1008 "rate limit exceeded". A rate of 0 turns
// that bucket off. The defaults are far above an interactive client (and
// above bench/ws's closed loops) yet keep one flooder from starving a room.
struct TROUPE_EXPORT RateLimit {
  double messages_per_second = 1000;
  double message_burst = 2000;
  double bytes_per_second = 8 << 20;  // 8 MiB/s
  double byte_burst = 16 << 20;
  // Continuously over the rate this long closes the connection; 0 never does.
  std::chrono::milliseconds close_after{10000};

  static RateLimit unlimited() { return {0, 0, 0, 0, std::chrono::milliseconds(0)}; }
};

// Per-route limits.
struct TROUPE_EXPORT RouteLimits {
  // Open connections allowed for one name under this route; more get 503.
  std::size_t max_connections_per_name = 1024;
  // Per connection, on by default (ws::RateLimit::unlimited() turns it off).
  RateLimit rate_limit;
};

}  // namespace ws
}  // namespace troupe
