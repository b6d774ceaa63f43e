#pragma once
// Big-endian integers in byte strings, for the on-disk and snapshot formats.
// Internal.

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::detail {

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// `bytes` bytes of `in` from `at`; the caller checks the length.
inline std::uint64_t get_be(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

}  // namespace troupe::detail
