// Fuzzes the snapshot decoder (persist/snapshot_codec.hpp) on three kinds of
// input, chosen by the first byte:
//   0: raw bytes, as a store might hand back;
//   1: an envelope around fuzzed body bytes with a correct length and CRC32C
//      and a fuzzed format version, so the msgpack body and every version
//      number are reached past the checksum;
//   2: a snapshot built from the input, encoded, then damaged (one byte
//      changed, or cut short).
// Properties:
//   - decoding never throws;
//   - a decoded snapshot re-encodes to bytes that decode equal, and those
//     bytes are exactly what a decode of them re-encodes to (canonical);
//   - only format version 1 decodes; every other gives unknown_format;
//   - encode then decode is the identity;
//   - any one changed byte of an encoded snapshot fails to decode
//     (CRC32C catches every error burst up to 32 bits), and every strict
//     prefix fails with truncated (or bad_magic when empty);
//   - decode<T> of a payload: when it succeeds, encode<T> decodes equal.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "persist/detail/big_endian.hpp"
#include "persist/detail/crc32c.hpp"
#include "persist/snapshot_codec.hpp"

namespace {

using namespace troupe;

bool same(const Snapshot& a, const Snapshot& b) {
  return a.schema_version == b.schema_version && a.revision == b.revision && a.payload == b.payload;
}

// What a decoded snapshot must satisfy, whatever the input.
void check_decoded(std::string_view bytes) {
  const CodecResult<Snapshot> decoded = decode_snapshot(bytes);
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code != CodecErrc::type_mismatch &&
               decoded.error().code != CodecErrc::future_schema);
    FUZZ_CHECK(!to_string(decoded.error()).empty());
    return;
  }
  FUZZ_CHECK(bytes.size() >= 14 && bytes.substr(0, 4) == "TRPS");
  FUZZ_CHECK(detail::get_be(bytes, 4, 2) == snapshot_format_version);
  const std::string again = encode_snapshot(*decoded);
  const CodecResult<Snapshot> redecoded = decode_snapshot(again);
  FUZZ_CHECK(redecoded && same(*redecoded, *decoded));
  FUZZ_CHECK(encode_snapshot(*redecoded) == again);
  // The payload as state: a list of strings (RecentIds' shape) or any value.
  const auto strings = decode<std::vector<std::string>>(decoded->payload);
  if (strings) {
    const auto back = decode<std::vector<std::string>>(encode(*strings));
    FUZZ_CHECK(back && *back == *strings);
  } else {
    FUZZ_CHECK(strings.error().code == CodecErrc::type_mismatch);
  }
}

std::string envelope(std::uint16_t version, std::string_view body) {
  std::string out = "TRPS";
  detail::put_be(out, version, 2);
  detail::put_be(out, body.size(), 4);
  out.append(body);
  detail::put_be(out, detail::crc32c(out), 4);
  return out;
}

void check_damage(std::string_view in) {
  // schema (4), revision (8), where (4), mask (1), then the payload.
  if (in.size() < 17) return;
  Snapshot s;
  s.schema_version = static_cast<std::uint32_t>(detail::get_be(in, 0, 4));
  s.revision = detail::get_be(in, 4, 8);
  const std::size_t where = detail::get_be(in, 12, 4);
  const auto mask = static_cast<unsigned char>(in[16]);
  s.payload = std::string(in.substr(17));
  const std::string bytes = encode_snapshot(s);
  const CodecResult<Snapshot> decoded = decode_snapshot(bytes);
  FUZZ_CHECK(decoded && same(*decoded, s));
  FUZZ_CHECK(check_schema(s, s.schema_version));
  if (s.schema_version > 0) {
    FUZZ_CHECK(check_schema(s, s.schema_version - 1).error().code == CodecErrc::future_schema);
  }
  if (mask != 0) {
    std::string damaged = bytes;
    damaged[where % damaged.size()] = static_cast<char>(damaged[where % damaged.size()] ^ mask);
    FUZZ_CHECK(!decode_snapshot(damaged));
  }
  const std::size_t cut = where % bytes.size();  // a strict prefix: a torn write
  const CodecResult<Snapshot> torn = decode_snapshot(std::string_view(bytes).substr(0, cut));
  FUZZ_CHECK(!torn);
  FUZZ_CHECK(torn.error().code == (cut == 0 ? CodecErrc::bad_magic : CodecErrc::truncated) ||
             (cut == 0 && torn.error().code == CodecErrc::truncated));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      check_decoded(in);
      break;
    case 1: {
      if (in.size() < 2) return 0;
      const auto version = static_cast<std::uint16_t>(detail::get_be(in, 0, 2));
      const std::string bytes = envelope(version, in.substr(2));
      const CodecResult<Snapshot> decoded = decode_snapshot(bytes);
      if (version != snapshot_format_version) {
        FUZZ_CHECK(!decoded && decoded.error().code == CodecErrc::unknown_format);
      } else if (!decoded) {
        FUZZ_CHECK(decoded.error().code == CodecErrc::malformed);
      }
      check_decoded(bytes);
      break;
    }
    default:
      check_damage(in);
  }
  return 0;
}
