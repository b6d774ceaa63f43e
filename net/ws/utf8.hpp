#pragma once
// UTF-8 validation, the one home for it in net/: outgoing text frames,
// incoming text frames and close reasons, decoded query parameters and route
// names all go through here. Pure functions; any thread.
//
// Well-formed means RFC 3629: no overlong forms, no surrogates (U+D800 to
// U+DFFF, which is what a lone "\uD83D" decoded naively becomes), nothing past
// U+10FFFF, no truncated sequence. NUL and other control characters are valid
// UTF-8; callers that refuse them say so.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/export.hpp"

namespace troupe {

// Length of the well-formed sequence that starts at text[i] (1 for ASCII),
// with its code point in `code`; 0 when the bytes there are not well-formed.
// Requires i < text.size().
TROUPE_EXPORT std::size_t utf8_sequence_length(std::string_view text, std::size_t i,
                                               std::uint32_t& code);

// True when all of `text` is well-formed UTF-8. Runs of ASCII are checked
// eight bytes at a time, so plain-ASCII text costs little more than a scan.
TROUPE_EXPORT bool is_valid_utf8(std::string_view text);

}  // namespace troupe
