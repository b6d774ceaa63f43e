#pragma once
// The node link's one envelope: every message between two nodes is a
// LinkFrame, sent as
//
//     u32 big-endian length of the body | body
//     body = msgpack array of 5: [type u8, conn u64, num u64, text str, data bin]
//
// The link itself interprets only hello, ping and pong (cluster/link/link_hub.hpp);
// what conn, num, text and data mean for the other types is the cluster's.
// Plain values and functions: any thread. A FrameDecoder has one owner.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/export.hpp"

namespace troupe::cluster {

enum class FrameType : std::uint8_t {
  hello = 1,
  open,
  frame,
  close,
  out_frame,
  out_close,
  progress,
  refused,
  send,
  ping,
  pong,
  call,   // a call by name (ClusterNode::call): conn = the call's id
  reply,  // its answer: num 1 = ok (data the reply), 0 = failed (text why)
};
inline constexpr std::uint8_t max_frame_type = static_cast<std::uint8_t>(FrameType::reply);

// "hello", "open", ...; "unknown" for a value outside the enum.
TROUPE_EXPORT const char* to_string(FrameType type);

struct LinkFrame {
  FrameType type = FrameType::frame;
  std::uint64_t conn = 0;
  std::uint64_t num = 0;
  std::string text;  // sent as msgpack str (not checked for UTF-8)
  std::string data;  // sent as msgpack bin
  friend bool operator==(const LinkFrame&, const LinkFrame&) = default;
};

inline constexpr std::size_t frame_header_bytes = 4;
inline constexpr std::size_t default_max_frame_bytes = 16 * 1024 * 1024;

// The frame with its length prefix. Throws std::length_error when text or
// data is over 4 GiB (the receiver's max_frame_bytes is the real limit).
TROUPE_EXPORT std::string encode_frame(const LinkFrame& frame);
// The same, appended to `out` (to batch frames into one write).
TROUPE_EXPORT void append_frame(std::string& out, const LinkFrame& frame);

// Streaming decoder: feed it the bytes of a connection in any chunking and it
// hands out each complete frame, in order. It keeps at most one partial frame
// (never more than frame_header_bytes + max_frame_bytes bytes), and a chunk
// that holds whole frames is decoded in place.
//
// The first bad frame fails it for good, with error() naming what was wrong:
// a body longer than max_frame_bytes (known from the length, before the body
// arrives), a body that is not exactly one msgpack array of 5 of the shape
// above, or an unknown type. Every later feed() returns false at once.
class TROUPE_EXPORT FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = default_max_frame_bytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Decodes what `bytes` completes, calling on_frame for each frame. on_frame
  // returns false to stop: the rest of `bytes` is then dropped and the
  // decoder must not be fed again (it is for a connection being closed).
  // Returns false if the decoder failed (now or before) or was stopped.
  bool feed(std::string_view bytes, const std::function<bool(LinkFrame&&)>& on_frame);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Bytes of a partial frame held until the rest arrives.
  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  bool decode(std::string_view body, const std::function<bool(LinkFrame&&)>& on_frame);
  bool oversize(std::size_t size);

  std::size_t max_frame_bytes_;
  std::string buffer_;         // the header, then the body, of the partial frame
  std::size_t body_size_ = 0;  // known once buffer_ holds the header
  bool stopped_ = false;
  std::string error_;
};

// Decodes one body (without the length prefix); false with `error` set when
// it is not a frame. For the decoder and the fuzz target.
TROUPE_EXPORT bool decode_frame_body(std::string_view body, LinkFrame& out, std::string& error);

}  // namespace troupe::cluster
