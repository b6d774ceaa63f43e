#pragma once
// JSON for the examples' protocols, with nlohmann/json (Debian's
// nlohmann-json3-dev). Its parser checks what clients get wrong or do on
// purpose: a string must be valid UTF-8, an escaped surrogate pair
// ("\uD83D\uDE00", how Python's json.dumps sends every emoji) becomes the one
// code point it stands for, and a lone surrogate is an error. So a parsed
// request never carries bytes that could poison a text frame or a snapshot.
//
// Outbound frames are dumped with error_handler_t::replace: every string in
// them came from a parsed request, a validated nick or a repaired snapshot,
// so an invalid sequence there would be a bug; replacing it with U+FFFD keeps
// the room's clients connected instead of sending a frame they must reject
// (or crashing the room, as `strict` would, over and over).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

// Objects keep their keys in insertion order: frames read as they are built.
using Json = nlohmann::ordered_json;

// The JSON object in `text`, or nullopt: not JSON, not an object, a string
// with invalid UTF-8 or a lone surrogate.
inline std::optional<Json> parse_object(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Compact JSON text of `j`, valid UTF-8 whatever its strings hold (see above).
inline std::string to_text(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// The string under `key`, if there is one.
inline std::optional<std::string> string_at(const Json& object, const std::string& key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The integer under `key` (fallback when absent), or nullopt when the value
// is not an integer that fits in 64 signed bits (1.5, "3", 2^63, ...).
inline std::optional<std::int64_t> int64_at(const Json& object, const std::string& key,
                                            std::int64_t fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_number_unsigned()) {
    auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (it->is_number_integer()) return it->get<std::int64_t>();
  return std::nullopt;
}

}  // namespace examples
