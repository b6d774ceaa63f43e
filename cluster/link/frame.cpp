#include "cluster/link/frame.hpp"

#include <msgpack.hpp>
#include <stdexcept>

#include "persist/detail/big_endian.hpp"
#include "persist/snapshot_codec.hpp"

namespace troupe::cluster {
namespace {

// msgpack's packer writes into any buffer with write(const char*, size_t).
struct StringWriter {
  std::string& out;
  void write(const char* p, std::size_t n) { out.append(p, n); }
};

const char* kind_of(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a boolean";
    case msgpack::type::POSITIVE_INTEGER:
      return "an unsigned integer";
    case msgpack::type::NEGATIVE_INTEGER:
      return "a negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "a float";
    case msgpack::type::STR:
      return "a str";
    case msgpack::type::BIN:
      return "a bin";
    case msgpack::type::ARRAY:
      return "an array";
    case msgpack::type::MAP:
      return "a map";
    case msgpack::type::EXT:
      return "an ext";
  }
  return "an unknown msgpack type";
}

constexpr const char* element_names[5] = {"type", "conn", "num", "text", "data"};
constexpr msgpack::type::object_type element_types[5] = {
    msgpack::type::POSITIVE_INTEGER, msgpack::type::POSITIVE_INTEGER,
    msgpack::type::POSITIVE_INTEGER, msgpack::type::STR, msgpack::type::BIN};

}  // namespace

const char* to_string(FrameType type) {
  switch (type) {
    case FrameType::hello:
      return "hello";
    case FrameType::open:
      return "open";
    case FrameType::frame:
      return "frame";
    case FrameType::close:
      return "close";
    case FrameType::out_frame:
      return "out_frame";
    case FrameType::out_close:
      return "out_close";
    case FrameType::progress:
      return "progress";
    case FrameType::refused:
      return "refused";
    case FrameType::send:
      return "send";
    case FrameType::ping:
      return "ping";
    case FrameType::pong:
      return "pong";
    case FrameType::call:
      return "call";
    case FrameType::reply:
      return "reply";
  }
  return "unknown";
}

void append_frame(std::string& out, const LinkFrame& frame) {
  if (frame.text.size() > UINT32_MAX || frame.data.size() > UINT32_MAX)
    throw std::length_error("a link frame's text or data is over 4 GiB");
  const std::size_t start = out.size();
  out.append(frame_header_bytes, '\0');
  StringWriter writer{out};
  msgpack::packer<StringWriter> pk(writer);
  pk.pack_array(5);
  pk.pack_uint8(static_cast<std::uint8_t>(frame.type));
  pk.pack_uint64(frame.conn);
  pk.pack_uint64(frame.num);
  pk.pack_str(static_cast<std::uint32_t>(frame.text.size()));
  pk.pack_str_body(frame.text.data(), static_cast<std::uint32_t>(frame.text.size()));
  pk.pack_bin(static_cast<std::uint32_t>(frame.data.size()));
  pk.pack_bin_body(frame.data.data(), static_cast<std::uint32_t>(frame.data.size()));
  const std::size_t body = out.size() - start - frame_header_bytes;
  if (body > UINT32_MAX) {
    out.resize(start);
    throw std::length_error("a link frame's body is over 4 GiB");
  }
  for (std::size_t i = 0; i < frame_header_bytes; ++i)
    out[start + i] = static_cast<char>((body >> (8 * (frame_header_bytes - 1 - i))) & 0xff);
}

std::string encode_frame(const LinkFrame& frame) {
  std::string out;
  out.reserve(frame_header_bytes + 32 + frame.text.size() + frame.data.size());
  append_frame(out, frame);
  return out;
}

bool decode_frame_body(std::string_view body, LinkFrame& out, std::string& error) {
  if (body.empty()) {
    error = "the frame body is empty";
    return false;
  }
  try {
    std::size_t used = 0;
    // Limits from the body's size: a header claiming billions of elements
    // is refused before msgpack allocates room for them.
    msgpack::object_handle handle =
        msgpack::unpack(body.data(), body.size(), used, nullptr, nullptr,
                        troupe::detail::unpack_limit_for(body.size()));
    const msgpack::object& o = handle.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 5) {
      error =
          std::string(
              "the frame body is not a msgpack array of 5 [type, conn, num, text, data]: it is ") +
          (o.type == msgpack::type::ARRAY ? "an array of " + std::to_string(o.via.array.size)
                                          : std::string(kind_of(o.type)));
      return false;
    }
    if (used != body.size()) {
      error = "the frame body has " + std::to_string(body.size() - used) +
              " bytes after its msgpack array";
      return false;
    }
    for (int i = 0; i < 5; ++i) {
      if (o.via.array.ptr[i].type != element_types[i]) {
        error = std::string("frame element ") + std::to_string(i) + " (" + element_names[i] +
                ") is " + kind_of(o.via.array.ptr[i].type) + ", not " + kind_of(element_types[i]);
        return false;
      }
    }
    const std::uint64_t type = o.via.array.ptr[0].via.u64;
    if (type == 0 || type > max_frame_type) {
      error = "unknown frame type " + std::to_string(type);
      return false;
    }
    out.type = static_cast<FrameType>(type);
    out.conn = o.via.array.ptr[1].via.u64;
    out.num = o.via.array.ptr[2].via.u64;
    out.text.assign(o.via.array.ptr[3].via.str.ptr, o.via.array.ptr[3].via.str.size);
    out.data.assign(o.via.array.ptr[4].via.bin.ptr, o.via.array.ptr[4].via.bin.size);
    return true;
  } catch (const std::exception& e) {
    error = std::string("the frame body is not msgpack: ") + e.what();
    return false;
  }
}

bool FrameDecoder::decode(std::string_view body, const std::function<bool(LinkFrame&&)>& on_frame) {
  LinkFrame frame;
  std::string why;
  if (!decode_frame_body(body, frame, why)) {
    error_ = std::move(why);
    return false;
  }
  if (!on_frame(std::move(frame))) {
    stopped_ = true;
    return false;
  }
  return true;
}

bool FrameDecoder::feed(std::string_view bytes, const std::function<bool(LinkFrame&&)>& on_frame) {
  if (failed() || stopped_) return false;
  while (!bytes.empty()) {
    if (buffer_.size() < frame_header_bytes) {
      // No partial frame, and the chunk holds a whole one: decode in place.
      if (buffer_.empty() && bytes.size() >= frame_header_bytes) {
        const std::size_t size = troupe::detail::get_be(bytes, 0, frame_header_bytes);
        if (size > max_frame_bytes_) return oversize(size);
        if (bytes.size() - frame_header_bytes >= size) {
          if (!decode(bytes.substr(frame_header_bytes, size), on_frame)) return false;
          bytes.remove_prefix(frame_header_bytes + size);
          continue;
        }
      }
      const std::size_t take = std::min(frame_header_bytes - buffer_.size(), bytes.size());
      buffer_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (buffer_.size() < frame_header_bytes) return true;
      body_size_ = troupe::detail::get_be(buffer_, 0, frame_header_bytes);
      if (body_size_ > max_frame_bytes_) return oversize(body_size_);
    }
    const std::size_t missing = frame_header_bytes + body_size_ - buffer_.size();
    const std::size_t take = std::min(missing, bytes.size());
    buffer_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (take < missing) return true;
    std::string whole;
    whole.swap(buffer_);
    if (!decode(std::string_view(whole).substr(frame_header_bytes), on_frame)) return false;
  }
  return true;
}

bool FrameDecoder::oversize(std::size_t size) {
  error_ = "a frame body of " + std::to_string(size) + " bytes is over max_frame_bytes (" +
           std::to_string(max_frame_bytes_) + ")";
  buffer_.clear();
  return false;
}

}  // namespace troupe::cluster
