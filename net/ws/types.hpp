#pragma once
// Vocabulary shared by the WebSocket server and the layer above it: connection
// ids, close codes, message kinds and the request a connection was opened with.
// All of these are plain values, safe to copy to and read from any thread.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/export.hpp"

namespace troupe {

// Names one WebSocket connection for its whole life and is never reused by the
// server that issued it. The low 8 bits name the loop that owns the connection,
// which is how send()/close() find the right inbox without a global lock.
struct TROUPE_EXPORT ConnectionId {
  std::uint64_t value = 0;

  constexpr explicit operator bool() const { return value != 0; }
  constexpr std::size_t loop() const { return static_cast<std::size_t>(value & 0xff); }
  friend constexpr auto operator<=>(ConnectionId, ConnectionId) = default;
};

// A text message is valid UTF-8 both ways: the server refuses to send one
// that is not (ws::Server::send returns false) and closes a connection
// that sends one with 1007 (RFC 6455 section 8.1).
enum class MessageKind : std::uint8_t { text, binary };

// RFC 6455 §7.4.1 close codes the server sends or reports.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  // peer closed without a code
inline constexpr std::uint16_t abnormal = 1006;   // no close handshake at all
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// What the server knows about an HTTP request or a WebSocket upgrade. Header
// names are lower case; query keys/values and the path are percent-decoded
// (libwebsockets decodes them while parsing, and folds "//", "/./", "/../").
struct TROUPE_EXPORT HttpRequest {
  std::string path;      // "/rooms/lobby"
  std::string route;     // matched route prefix, "/rooms"; empty for plain HTTP
  std::string name;      // decoded name after the prefix, "lobby"; empty for plain HTTP
  KeyValues query;       // "?a=1&b" -> {"a","1"}, {"b",""}
  KeyValues headers;     // every standard header present, plus ws::Options::captured_headers
  KeyValues cookies;     // from the Cookie header, "k=v; k2=v2"
  std::string peer;      // remote address, "127.0.0.1"
  std::size_t loop = 0;  // index of the loop serving the request

  std::optional<std::string_view> header(std::string_view lower_name) const;
  std::optional<std::string_view> query_param(std::string_view key) const;
  std::optional<std::string_view> cookie(std::string_view key) const;
};

}  // namespace troupe

template <>
struct std::hash<troupe::ConnectionId> {
  std::size_t operator()(troupe::ConnectionId id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value);
  }
};
