#pragma once
// CRC32C (Castagnoli), the checksum of snapshot envelopes: it catches torn
// and bit-flipped blobs; it is not a defence against deliberate tampering.

#include <cstdint>
#include <string_view>

namespace troupe::detail {

std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace troupe::detail
