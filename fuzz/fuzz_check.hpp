#pragma once
// What the fuzz targets share: FUZZ_CHECK, an assertion that stays on in
// every build and aborts with the broken property, so that libFuzzer saves
// the input that broke it; and a reference UTF-8 decoder written apart from
// net/ws/utf8.cpp, for differential checks.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace fuzz {

// The code point of the RFC 3629 sequence at text[i] and its length, or
// length 0 when the bytes there are not one (overlong, surrogate, past
// U+10FFFF, truncated, stray continuation byte).
struct Decoded {
  std::uint32_t code = 0;
  std::size_t length = 0;
};
inline Decoded decode_utf8(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  std::size_t length;
  std::uint32_t code, min;
  if (lead < 0x80) return {lead, 1};
  if ((lead & 0xe0) == 0xc0) {
    length = 2, code = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, code = lead & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (text.size() - i < length) return {};
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return {};
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return {};
  return {code, length};
}

inline bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = decode_utf8(text, i);
    if (d.length == 0) return false;
    i += d.length;
  }
  return true;
}

}  // namespace fuzz
