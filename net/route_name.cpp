#include "net/route_name.hpp"

#include <cstdint>
#include <string_view>

namespace troupe {
namespace {

constexpr std::string_view ascii_punctuation = "-._~!$'()*,;=:@";

bool is_safe_ascii(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return ascii_punctuation.find(static_cast<char>(c)) != std::string_view::npos;
}

// Length of the well-formed UTF-8 sequence at name[i] encoding a code point of
// U+00A0 or more, or 0 if there is none.
std::size_t safe_utf8_length(std::string_view name, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(name[i + k]);
  };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > name.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(k) & 0x3f);
  }
  const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length]) return 0;           // overlong
  if (code >= 0xd800 && code <= 0xdfff) return 0;  // surrogate
  if (code > 0x10ffff || code < 0xa0) return 0;    // out of range, C1 controls
  return length;
}

}  // namespace

bool is_valid_route_name(std::string_view name) {
  if (name.empty() || name.size() > max_route_name_bytes) return false;
  if (name == "." || name == "..") return false;
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (!is_safe_ascii(c)) return false;
      ++i;
      continue;
    }
    const std::size_t length = safe_utf8_length(name, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace troupe
