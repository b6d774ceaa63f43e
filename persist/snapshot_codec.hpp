#pragma once
// The snapshot envelope: how an actor's state is laid out in a store.
//
//   offset 0   magic "TRPS"
//          4   format version, u16 big-endian (this code writes 1)
//          6   body length N, u32 big-endian
//         10   body: msgpack array [schema_version, revision, payload (bin)]
//     10 + N   CRC32C of bytes [0, 10 + N), u32 big-endian
//
// The format version describes this layout and is ours; the schema version
// is the actor's, telling which shape of its state type the payload has, so
// that a migration hook can upgrade old snapshots. The payload is the state
// encoded with msgpack-cxx (encode<T> below).
//
// Decoding never throws on bad input: each way a blob can be wrong has its
// own CodecErrc, checked in this order: truncated, bad_magic,
// unknown_format, checksum_mismatch, malformed. Pure functions; any thread.

#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/result.hpp"

namespace troupe {

enum class CodecErrc {
  truncated,          // fewer bytes than the envelope says it has
  bad_magic,          // not a snapshot at all
  unknown_format,     // written by a newer Troupe with a layout this one cannot read
  checksum_mismatch,  // the bytes were damaged
  malformed,          // the checksum holds but the body is not what this format writes
  type_mismatch,      // the msgpack does not decode to the requested state type
  future_schema,      // the actor's schema version is newer than the code reading it
};

TROUPE_EXPORT const char* to_string(CodecErrc code);

struct TROUPE_EXPORT CodecError {
  CodecErrc code = CodecErrc::malformed;
  std::string message;  // the cause; callers add the key it was read from
};
// "<code>: <message>".
TROUPE_EXPORT std::string to_string(const CodecError& error);

template <class T>
using CodecResult = Result<T, CodecError>;

inline constexpr std::uint16_t snapshot_format_version = 1;

struct TROUPE_EXPORT Snapshot {
  std::uint32_t schema_version = 0;
  Revision revision = 0;
  std::string payload;
};

TROUPE_EXPORT std::string encode_snapshot(const Snapshot& snapshot);
TROUPE_EXPORT CodecResult<Snapshot> decode_snapshot(std::string_view bytes);

// Fails with future_schema when the snapshot was written by a newer schema
// than current_schema_version; older ones are the migration hook's to handle.
TROUPE_EXPORT CodecResult<void> check_schema(const Snapshot& snapshot,
                                             std::uint32_t current_schema_version);

// msgpack encoding of a state type with a msgpack adaptor (MSGPACK_DEFINE).
template <class T>
std::string encode(const T& state) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, state);
  return std::string(buffer.data(), buffer.size());
}

namespace detail {
// msgpack's limits for decoding `size` bytes: no array, map, string, binary or
// extension can have more elements or bytes than there are bytes, so a
// header claiming billions (a few bytes) is refused before msgpack allocates
// room for them.
inline msgpack::unpack_limit unpack_limit_for(std::size_t size) {
  return msgpack::unpack_limit(size, size, size, size, size);
}
TROUPE_EXPORT CodecError type_mismatch(std::string_view type_name, const std::exception& cause);
TROUPE_EXPORT CodecError trailing_bytes(std::string_view type_name, std::size_t used,
                                        std::size_t size);
}  // namespace detail

// Decodes bytes written by encode<T>; type_mismatch (naming the cause) when
// they hold something else. T must be default-constructible.
template <class T>
CodecResult<T> decode(std::string_view bytes, std::string_view type_name = "the state type") {
  try {
    std::size_t used = 0;
    msgpack::object_handle handle = msgpack::unpack(
        bytes.data(), bytes.size(), used, nullptr, nullptr, detail::unpack_limit_for(bytes.size()));
    if (used != bytes.size())
      return unexpected(detail::trailing_bytes(type_name, used, bytes.size()));
    T state{};
    handle.get().convert(state);
    return state;
  } catch (const std::exception& e) {
    return unexpected(detail::type_mismatch(type_name, e));
  }
}

// encode<T> wrapped in an envelope.
template <class T>
std::string encode_state(const T& state, std::uint32_t schema_version, Revision revision) {
  return encode_snapshot(Snapshot{schema_version, revision, encode(state)});
}

}  // namespace troupe
