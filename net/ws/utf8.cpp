#include "net/ws/utf8.hpp"

#include <cstring>

namespace troupe {

std::size_t utf8_sequence_length(std::string_view text, std::size_t i, std::uint32_t& code) {
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(text[i + k]);
  };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  if (lead < 0x80) {
    code = lead;
    return 1;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;  // continuation byte, overlong lead 0xc0/0xc1, or past U+10FFFF
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(k) & 0x3f);
  }
  constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length]) return 0;           // overlong
  if (code >= 0xd800 && code <= 0xdfff) return 0;  // surrogate
  if (code > 0x10ffff) return 0;
  return length;
}

bool is_valid_utf8(std::string_view text) {
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    // Fast path: eight ASCII bytes at once.
    if (i + 8 <= size) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    std::uint32_t code = 0;
    const std::size_t length = utf8_sequence_length(text, i, code);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace troupe
