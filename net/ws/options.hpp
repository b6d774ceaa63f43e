#pragma once
// Configuration of a ws::Server: where it listens and every limit it
// enforces. Each limit has a default fit for a public-facing server.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/export.hpp"

namespace troupe::ws {

// What happens when a connection's outbound queue would exceed
// ws::Options::max_outbound_bytes (a reader slower than its writers).
enum class OverflowPolicy : std::uint8_t {
  close,        // close it with 1008 "outbound queue full"
  drop_oldest,  // drop the oldest queued messages until the new one fits
};

struct TROUPE_EXPORT Options {
  // IPv4 or IPv6 literal to bind, e.g. "127.0.0.1", "::1", "0.0.0.0".
  std::string address = "127.0.0.1";
  // 0 picks a free port; ws::Server::port() tells which.
  std::uint16_t port = 0;
  int listen_backlog = 511;

  // A message (all fragments together) larger than this closes with 1009; a
  // big frame is refused at its first chunk, before it is buffered.
  std::size_t max_message_bytes = 1 << 20;
  // Bytes held for one connection and not yet taken by its socket: queued
  // messages, and those written at once that the socket has not taken all
  // of yet. A message that would pass it gets `overflow`; a single message
  // larger than this is never buffered: send() refuses it (returns false on
  // the loop's thread) and the policy applies (close: 1008; drop_oldest: the
  // message is dropped and counted in frames_dropped).
  std::size_t max_outbound_bytes = 8 << 20;
  // The same, summed over every connection of the server: the memory that
  // slow readers can pin at most. The connection whose message would pass it
  // gets `overflow` (close: 1008 "server outbound memory full"). Loops check
  // it without a lock, so it may be passed by a message per loop at most.
  std::size_t max_total_outbound_bytes = std::size_t{256} << 20;
  OverflowPolicy overflow = OverflowPolicy::close;
  // libwebsockets' receive buffer, allocated per connection for its life:
  // the largest piece of a message read from the socket at once (messages of
  // any size up to max_message_bytes still arrive whole, in more reads).
  // The default keeps idle connections small (bench/README.md); lws's own
  // is 4096, better for a server whose messages are mostly larger.
  std::size_t receive_buffer_bytes = 512;

  // Open WebSocket connections (and upgrades in progress) over all routes;
  // past this an upgrade gets 503. 0 (the default) takes it from the
  // process's descriptor limit when the server is made: RLIMIT_NOFILE's soft
  // limit less a reserve of 64 + 1/16 of it (at most 1024) for stores, files
  // and handshakes, capped at 100,000 (1024 descriptors: 896 connections).
  // Should the process still run out of descriptors, the listener answers
  // pending connections 503 with a reserve descriptor and pauses accepting
  // for 100 ms instead of spinning (docs/net.md, "Limits").
  std::size_t max_connections = 0;

  // Ping a connection after heartbeat_interval without a pong; drop it when
  // heartbeat_timeout passes without one. Zero interval disables heartbeats.
  // Whole seconds: libwebsockets' retry policy has that resolution.
  std::chrono::seconds heartbeat_interval{30};
  std::chrono::seconds heartbeat_timeout{45};

  // A client must finish its HTTP request (upgrade included) within this, or
  // it is dropped: covers half-open sockets and slow-handshake clients.
  std::chrono::seconds handshake_timeout{5};
  // Time a closing connection gets to flush and exchange close frames before
  // it is dropped without ceremony.
  std::chrono::seconds close_timeout{5};
  // On shutdown, time clients get to answer the 1001 close before the
  // remaining connections are dropped.
  std::chrono::milliseconds shutdown_timeout{3000};

  // Against cross-site WebSocket hijacking: a request (upgrade, handler or
  // static file) with an Origin header is served when the Origin is
  // same-origin (its host[:port] equals the Host header, default ports
  // implied) or listed here, e.g. "https://app.example"; otherwise 403.
  // "null" (sandboxed frames, file: pages) is refused unless listed. {"*"}
  // allows any Origin. A request without Origin (not a browser) is allowed.
  std::vector<std::string> allowed_origins;

  // Against DNS rebinding: the Host header names that are served; others get
  // 421. An entry "app.example" allows any port, "app.example:8080" only that
  // one; {"*"} allows any Host. Empty (the default) means: on a loopback
  // address (127.0.0.0/8, ::1) only localhost, 127.0.0.1 and [::1], with or
  // without a port; on any other address any Host (a public server answers
  // whatever name points at it; list its names to be strict). A request
  // without Host (not a browser) is allowed.
  std::vector<std::string> allowed_hosts;

  // Non-standard request headers (lower case, e.g. "x-api-key") to copy into
  // HttpRequest::headers; standard ones are always copied.
  std::vector<std::string> captured_headers;

  // Serve files under static_dir at static_mount ("/static/app.js"). Empty
  // static_dir serves none. The mount must not overlap a route or handler.
  // A path that resolves (symbolic links and ".." followed) outside
  // static_dir, or to anything but a regular file, gets 404; "<mount>/"
  // serves index.html. Host and Origin checks apply as to any request.
  std::string static_dir;
  std::string static_mount = "/static";

  // TLS (wss:// and https://), served by libwebsockets with OpenSSL. Both
  // empty (the default): plain ws:// and http://. Both set: the port speaks
  // TLS only; a plain HTTP request on it is answered 400 and closed.
  // tls_cert_file: PEM, the server's certificate first, then the
  // intermediates (a "fullchain.pem"); tls_key_file: its private key, PEM,
  // not encrypted. TLS 1.2 and 1.3 only (1.3 when the client has it), AEAD
  // ciphers with forward secrecy, HTTP/1.1 only (no h2 in ALPN). start()
  // fails (and logs why) when they cannot be used. The files are checked
  // every tls_reload_interval: once changed (and unchanged for one more
  // interval), new connections get the new certificate and open ones keep
  // theirs; a replacement that cannot be used is logged as an error and the
  // old certificate stays (docs/net.md, "TLS (wss://)"). Zero: never reload.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::milliseconds tls_reload_interval{5000};
};

}  // namespace troupe::ws
