#pragma once
// The contract between the WebSocket server and whatever serves a route (the
// session-actor layer, a test echo, ...). A route is a path prefix such as
// "/rooms"; a client opens ws://host:port/rooms/<name>.
//
// Threading: every callback of a handler runs on the loop thread that owns the
// connection (see ConnectionId::loop), never concurrently for one connection,
// but concurrently across connections on different loops: a handler shared by
// several loops must be thread-safe. Callbacks must not block the loop. They
// may call WebSocketServer::send()/close() for any connection. An exception
// escaping a callback closes that connection with 1011.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "net/connection.hpp"

namespace troupe {

// The answer of RouteHandler::authorize: admit, or refuse with an HTTP status
// (401, 403, 503, ...) sent before the upgrade, so the client never connects.
struct Admission {
  int status = 0;    // 0 admits; otherwise the HTTP status of the refusal
  std::string body;  // short text/plain body for the refusal

  static Admission admit() { return {}; }
  static Admission reject(int status, std::string body = {}) { return {status, std::move(body)}; }
  bool admitted() const { return status == 0; }
};

class RouteHandler {
 public:
  virtual ~RouteHandler() = default;

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

// Per-route limits.
struct RouteOptions {
  // Open connections allowed for one name under this route; more get 503.
  std::size_t max_connections_per_name = 1024;
};

}  // namespace troupe
