#pragma once
// Text checks for what the examples take from clients outside JSON (nicks
// from the query string) and for state written before the examples checked
// anything (snapshots of the old hand-written decoder). UTF-8 is checked by
// nlohmann/json's encoder, the same code that guards every outbound frame.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "json.hpp"

namespace examples {

inline bool is_valid_utf8(std::string_view text) {
  try {
    (void)Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::strict);
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
inline std::string repaired_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  return Json::parse(to_text(Json(std::string(text)))).get<std::string>();
}

// Repairs `text` in place; true if it had to.
inline bool repair_utf8(std::string& text) {
  if (is_valid_utf8(text)) return false;
  text = repaired_utf8(text);
  return true;
}

// Code points in valid UTF-8 `text` (the bytes that do not continue one).
inline std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

inline constexpr std::size_t max_nick_code_points = 32;

// Why `nick` cannot be a nick (for a close reason: it never quotes the
// nick), or nullopt if it can: valid UTF-8, 1 to 32 code points, no control
// characters (C0, DEL, C1).
inline std::optional<std::string> nick_problem(std::string_view nick) {
  if (nick.empty()) return "the name is empty";
  if (!is_valid_utf8(nick)) return "the name is not valid UTF-8";
  if (code_points(nick) > max_nick_code_points) return "the name is longer than 32 characters";
  for (std::size_t i = 0; i < nick.size(); ++i) {
    auto c = static_cast<unsigned char>(nick[i]);
    bool c1 = c == 0xC2 && i + 1 < nick.size() && static_cast<unsigned char>(nick[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) return "the name has a control character";
  }
  return std::nullopt;
}

}  // namespace examples
