#pragma once
// The names that may follow a route prefix: /rooms/<name>.
//
// A name arrives percent-decoded and must be 1 to 256 bytes, each byte in the
// safe set:
//   - ASCII letters and digits, and  - . _ ~ ! $ ' ( ) * , ; = : @
//   - UTF-8 encoded characters from U+00A0 up (well-formed: no overlong forms,
//     no surrogates, nothing past U+10FFFF), so "caf%C3%A9" names "café".
// Everything else is refused: '/', '%', '+', '&', '?', '#', spaces, control
// characters, stray bytes >= 0x80. "." and ".." are refused as whole names.
// These names can be used as they are in registry keys, file names and logs.

#include <cstddef>
#include <string_view>

#include "runtime/export.hpp"

namespace troupe {

inline constexpr std::size_t max_route_name_bytes = 256;

// Pure function; any thread.
TROUPE_EXPORT bool is_valid_route_name(std::string_view name);

}  // namespace troupe
