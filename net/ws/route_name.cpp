#include "net/ws/route_name.hpp"

#include <cstdint>
#include <string_view>

#include "net/ws/utf8.hpp"

namespace troupe {
namespace {

constexpr std::string_view ascii_punctuation = "-._~!$'()*,;=:@";

bool is_safe_ascii(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return ascii_punctuation.find(static_cast<char>(c)) != std::string_view::npos;
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
    // Well-formed, and not a C1 control (U+0080 to U+009F).
    std::uint32_t code = 0;
    const std::size_t length = utf8_sequence_length(name, i, code);
    if (length == 0 || code < 0xa0) return false;
    i += length;
  }
  return true;
}

}  // namespace troupe
