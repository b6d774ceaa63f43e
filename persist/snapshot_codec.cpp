#include "persist/snapshot_codec.hpp"

#include "persist/detail/big_endian.hpp"
#include "persist/detail/crc32c.hpp"

namespace troupe {
namespace {

using detail::get_be;
using detail::put_be;

constexpr std::string_view magic = "TRPS";
constexpr std::size_t header_size = 10;  // magic, format version, body length
constexpr std::size_t trailer_size = 4;  // CRC32C

CodecError error(CodecErrc code, std::string message) {
  return {code, std::move(message)};
}

}  // namespace

const char* to_string(CodecErrc code) {
  switch (code) {
    case CodecErrc::truncated:
      return "truncated snapshot";
    case CodecErrc::bad_magic:
      return "not a snapshot (bad magic)";
    case CodecErrc::unknown_format:
      return "unknown snapshot format";
    case CodecErrc::checksum_mismatch:
      return "snapshot checksum mismatch";
    case CodecErrc::malformed:
      return "malformed snapshot";
    case CodecErrc::type_mismatch:
      return "state type mismatch";
    case CodecErrc::future_schema:
      return "snapshot from a newer schema";
  }
  return "unknown codec error";
}

std::string to_string(const CodecError& error) {
  return std::string(to_string(error.code)) + ": " + error.message;
}

std::string encode_snapshot(const Snapshot& snapshot) {
  msgpack::sbuffer body;
  msgpack::packer<msgpack::sbuffer> pk(body);
  pk.pack_array(3);
  pk.pack(snapshot.schema_version);
  pk.pack(snapshot.revision);
  pk.pack_bin(static_cast<std::uint32_t>(snapshot.payload.size()));
  pk.pack_bin_body(snapshot.payload.data(), static_cast<std::uint32_t>(snapshot.payload.size()));

  std::string out;
  out.reserve(header_size + body.size() + trailer_size);
  out += magic;
  put_be(out, snapshot_format_version, 2);
  put_be(out, body.size(), 4);
  out.append(body.data(), body.size());
  put_be(out, detail::crc32c(out), 4);
  return out;
}

CodecResult<Snapshot> decode_snapshot(std::string_view bytes) {
  // Magic first, on as many bytes as there are, so that a short blob of
  // something else reads as "not a snapshot" rather than "truncated".
  if (bytes.substr(0, magic.size()) != magic.substr(0, bytes.size())) {
    return unexpected(error(CodecErrc::bad_magic, "the first bytes are not \"TRPS\""));
  }
  if (bytes.size() < header_size) {
    return unexpected(error(CodecErrc::truncated, std::to_string(bytes.size()) +
                                                      " bytes, shorter than the 10-byte header"));
  }
  auto format = get_be(bytes, 4, 2);
  if (format != snapshot_format_version) {
    return unexpected(error(CodecErrc::unknown_format,
                            "format version " + std::to_string(format) + ", this build reads " +
                                std::to_string(snapshot_format_version)));
  }
  auto body_size = get_be(bytes, 6, 4);
  auto total = header_size + body_size + trailer_size;
  if (bytes.size() < total) {
    return unexpected(error(CodecErrc::truncated,
                            "the envelope is " + std::to_string(total) + " bytes long but only " +
                                std::to_string(bytes.size()) + " are present"));
  }
  if (bytes.size() > total) {
    return unexpected(error(CodecErrc::malformed, std::to_string(bytes.size() - total) +
                                                      " bytes follow the end of the envelope"));
  }
  auto stored_crc = static_cast<std::uint32_t>(get_be(bytes, total - trailer_size, 4));
  auto crc = detail::crc32c(bytes.substr(0, total - trailer_size));
  if (crc != stored_crc) {
    char text[64];
    std::snprintf(text, sizeof text, "stored CRC32C %08x, computed %08x", stored_crc, crc);
    return unexpected(error(CodecErrc::checksum_mismatch, text));
  }
  try {
    auto body = bytes.substr(header_size, body_size);
    std::size_t used = 0;
    auto handle = msgpack::unpack(body.data(), body.size(), used, nullptr, nullptr,
                                  detail::unpack_limit_for(body.size()));
    const msgpack::object& o = handle.get();
    if (used != body.size() || o.type != msgpack::type::ARRAY || o.via.array.size != 3 ||
        o.via.array.ptr[2].type != msgpack::type::BIN) {
      return unexpected(error(CodecErrc::malformed, "the body is not [schema, revision, payload]"));
    }
    Snapshot s;
    o.via.array.ptr[0].convert(s.schema_version);
    o.via.array.ptr[1].convert(s.revision);
    const auto& bin = o.via.array.ptr[2].via.bin;
    s.payload.assign(bin.ptr, bin.size);
    return s;
  } catch (const std::exception& e) {
    return unexpected(
        error(CodecErrc::malformed, std::string("the body does not parse: ") + e.what()));
  }
}

CodecResult<void> check_schema(const Snapshot& snapshot, std::uint32_t current_schema_version) {
  if (snapshot.schema_version <= current_schema_version) return {};
  return unexpected(error(CodecErrc::future_schema,
                          "written with schema version " + std::to_string(snapshot.schema_version) +
                              ", this code knows up to " + std::to_string(current_schema_version)));
}

namespace detail {

CodecError type_mismatch(std::string_view type_name, const std::exception& cause) {
  return {CodecErrc::type_mismatch,
          "msgpack does not decode to " + std::string(type_name) + " (" + cause.what() + ")"};
}

CodecError trailing_bytes(std::string_view type_name, std::size_t used, std::size_t size) {
  return {CodecErrc::type_mismatch, "msgpack does not decode to " + std::string(type_name) +
                                        ": one object uses " + std::to_string(used) + " of " +
                                        std::to_string(size) + " bytes"};
}

}  // namespace detail
}  // namespace troupe
