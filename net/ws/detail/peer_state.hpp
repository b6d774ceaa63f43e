#pragma once
// What the server keeps per libwebsockets wsi (its opaque user data), and the
// commands other threads send to a loop. Loop-thread only, except Command,
// which crosses threads by value through LoopWorker's inbox.

#include <libwebsockets.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "net/ws/detail/rate_limit.hpp"
#include "net/ws/types.hpp"

namespace troupe::detail {

struct RouteEntry;

// One outbound message with LWS_PRE bytes of headroom in front, which
// lws_write() needs for the frame header, so nothing is copied at write time.
class OutFrame {
 public:
  OutFrame() = default;
  OutFrame(std::string_view payload, MessageKind kind);

  unsigned char* payload() { return buffer_.data() + LWS_PRE; }
  std::size_t size() const { return buffer_.empty() ? 0 : buffer_.size() - LWS_PRE; }
  MessageKind kind() const { return kind_; }

 private:
  std::vector<unsigned char> buffer_;
  MessageKind kind_ = MessageKind::text;
};

struct Command {
  enum class Kind : std::uint8_t { adopt, send, close, pause_reading, stop };
  Kind kind = Kind::stop;
  int fd = -1;  // adopt
  ConnectionId id;
  OutFrame frame;          // send
  std::uint16_t code = 0;  // close; pause_reading: 1 to pause, 0 to resume
  std::string reason;      // close
};

// Created when a wsi first needs state (an HTTP reply, an admitted upgrade),
// retired at LWS_CALLBACK_WSI_DESTROY and freed later, outside lws callbacks.
struct PeerState {
  lws* wsi = nullptr;

  // Plain HTTP: a reply body waiting for LWS_CALLBACK_HTTP_WRITEABLE.
  std::string http_body;
  bool http_body_pending = false;

  // WebSocket, once the upgrade was admitted.
  const RouteEntry* route = nullptr;
  std::string limit_key;  // "<prefix>/<name>", for ConnectionLimits
  bool reserved = false;  // holds a ConnectionLimits slot
  HttpRequest request;
  ConnectionId id;  // set when the upgrade completes
  bool opened = false;

  // A list, not a deque: a deque allocates a block up front, and most
  // connections never queue (frames are written at once when nothing waits).
  std::list<OutFrame> outbound;
  std::size_t outbound_bytes = 0;  // of `outbound`
  // Whole frames, already framed, to write in one send() before the loop
  // next polls (LoopWorker::cork).
  std::string corked;
  bool in_cork_list = false;
  // Bytes of the last writes lws holds because the socket did not take them
  // all (an upper bound: the whole writes). Zero again at the next
  // SERVER_WRITEABLE, which lws delivers only once it has flushed them.
  std::size_t lws_held_bytes = 0;
  // This connection's share of AtomicCounters::outbound_bytes (the
  // server-wide total), brought up to held_bytes() by LoopWorker::account.
  std::size_t accounted_bytes = 0;

  // Everything this connection holds for its client, for the outbound limits.
  std::size_t held_bytes() const { return outbound_bytes + corked.size() + lws_held_bytes; }

  std::string inbound;              // fragments of the message being received
  std::size_t utf8_checked = 0;     // bytes of `inbound` known to be whole, valid UTF-8
  bool inbound_fragmented = false;  // the message being received came in more than one frame

  // lws answers pings itself, in its next POLLOUT, and a ping may have come
  // between the fragments of a message: until the next SERVER_WRITEABLE
  // (which lws calls only after writing that pong) nothing is written
  // directly, so the message's echo cannot overtake the pong.
  bool hold_direct_writes = false;
  // Reading is paused while lws holds part of a write: lws drops the
  // connection without a close frame if a close arrives then.
  bool paused_for_backlog = false;

  // ws::RouteLimits::rate_limit (LoopWorker::admit_rate), set up at the first
  // message. While rx_paused lws does not read the socket until resume_at_ms.
  RateLimiter rate;
  bool rate_ready = false;
  bool rx_paused = false;
  std::uint64_t resume_at_ms = 0;
  MessageKind inbound_kind = MessageKind::text;

  bool closing = false;              // no more sends or receives are processed
  bool close_frame_started = false;  // lws was told to close
  // The connection was failed (RFC 6455 section 7.1.7): once the close frame
  // is out, TCP is closed without waiting for an answer, which lws could not
  // parse anyway when the failure came in the middle of a frame.
  bool failing = false;
  bool write_side_shut = false;  // shutdown(SHUT_WR) after that close frame
  bool reported = false;         // on_close was called
  bool counted_closed = false;   // left LoopWorker::open_wsis_
  std::uint16_t close_code = 0;
  std::string close_reason;
};

}  // namespace troupe::detail
