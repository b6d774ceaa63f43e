// WebSocket connections on one loop: admission before the upgrade, message
// reassembly and size limit, the outbound queue and its limit, and closing.
//
// Closing follows the method that works on Debian's lws 4.1.6 with libuv
// (docs/net.md): lws_close_reason + lws_set_timeout(LWS_TO_KILL_SYNC) + return
// 0, because returning -1 from SERVER_WRITEABLE drops the socket without a
// close frame there (warmcat/libwebsockets#3569).

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>

#include "net/ws/detail/loop_worker.hpp"
#include "net/ws/detail/request_checks.hpp"
#include "net/ws/detail/request_reader.hpp"
#include "net/ws/route_name.hpp"
#include "net/ws/server.hpp"
#include "net/ws/utf8.hpp"

namespace troupe::detail {
namespace {

// RFC 6455 allows 125 bytes of close payload; 2 of them carry the code.
constexpr std::size_t max_close_reason_bytes = 123;

// Keep a reassembly buffer this large between messages; free bigger ones so
// an idle connection does not pin the memory of its largest message.
constexpr std::size_t kept_inbound_capacity = 64 * 1024;

template <typename F>
bool guarded(F&& f) {
  try {
    f();
    return true;
  } catch (...) {
    return false;
  }
}

// True when `tail` (1 to 3 bytes, shorter than the character its first byte
// starts) can still become a well-formed character (RFC 3629 section 4).
bool starts_a_character(std::string_view tail) {
  const auto lead = static_cast<unsigned char>(tail[0]);
  if (lead < 0xc2 || lead > 0xf4) return false;
  unsigned char low = 0x80, high = 0xbf;
  if (lead == 0xe0) low = 0xa0;   // overlong
  if (lead == 0xed) high = 0x9f;  // surrogates
  if (lead == 0xf0) low = 0x90;   // overlong
  if (lead == 0xf4) high = 0x8f;  // past U+10FFFF
  for (std::size_t i = 1; i < tail.size(); ++i) {
    const auto byte = static_cast<unsigned char>(tail[i]);
    if (i == 1 ? (byte < low || byte > high) : (byte < 0x80 || byte > 0xbf)) return false;
  }
  return true;
}

// Checks the text received so far from `checked` on, so that invalid UTF-8
// fails the connection at the chunk that makes it invalid, not at the end of
// the message (RFC 6455 section 8.1). Advances `checked` past the last whole
// character; an unfinished one at the end is allowed unless `final`.
bool utf8_valid_so_far(std::string_view text, std::size_t& checked, bool final) {
  std::size_t whole = text.size();
  if (!final) {
    // A character has at most 4 bytes: look at most 3 back for its first one.
    std::size_t i = whole;
    const std::size_t stop = std::max(checked, whole >= 3 ? whole - 3 : 0);
    while (i > stop && (static_cast<unsigned char>(text[i - 1]) & 0xc0) == 0x80) --i;
    if (i > checked) {
      const auto lead = static_cast<unsigned char>(text[i - 1]);
      const std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      if (whole - (i - 1) < length) whole = i - 1;
    }
  }
  if (!is_valid_utf8(text.substr(checked, whole - checked))) return false;
  checked = whole;
  return whole == text.size() || starts_a_character(text.substr(whole));
}

// Our reason for pausing lws's reading, beside lws_rx_flow_control's
// boolean one that throttle.cpp uses for rate limits.
constexpr int backlog_rxflow_reason = 1 << 1;
// ... and the gateway's (Server::pause_reading): its session is behind.
constexpr int session_rxflow_reason = 1 << 2;

void pause_for_backlog(PeerState& peer) {
  if (peer.paused_for_backlog || !peer.wsi) return;
  peer.paused_for_backlog = true;
  lws_rx_flow_control(peer.wsi, LWS_RXFLOW_REASON_APPLIES_DISABLE | backlog_rxflow_reason);
}

void resume_after_backlog(PeerState& peer) {
  if (!peer.paused_for_backlog) return;
  peer.paused_for_backlog = false;
  lws_rx_flow_control(peer.wsi, LWS_RXFLOW_REASON_APPLIES_ENABLE | backlog_rxflow_reason);
}

// RFC 6455 section 4.1: the key is 16 random bytes in base64.
bool is_valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  });
}

}  // namespace

PeerState& LoopWorker::state_of(lws* wsi) {
  auto* peer = static_cast<PeerState*>(lws_get_opaque_user_data(wsi));
  if (!peer) {
    peer = new PeerState;
    peer->wsi = wsi;
    lws_set_opaque_user_data(wsi, peer);
  }
  return *peer;
}

PeerState* LoopWorker::find(ConnectionId id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

int LoopWorker::refuse_upgrade(lws* wsi, int status, std::string_view body,
                               std::string_view extra_headers) {
  AtomicCounters::bump(shared_.counters.upgrades_refused);
  // Written by hand: before the upgrade decision lws has not recorded the
  // request's HTTP version yet, so lws_return_http_status() would answer
  // "HTTP/1.0", which strict clients (Python's websockets) reject.
  std::string text(body.empty() ? status_text(status) : body);
  text += '\n';
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                         std::to_string(text.size()) + "\r\nConnection: close\r\n" +
                         std::string(extra_headers) + "\r\n" + text;
  std::string buffer(LWS_PRE, '\0');
  buffer += response;
  auto* data = reinterpret_cast<unsigned char*>(buffer.data()) + LWS_PRE;
  if (lws_write(wsi, data, response.size(), LWS_WRITE_HTTP_HEADERS) !=
      static_cast<int>(response.size())) {
    return -1;
  }
  return 1;  // lws completes the HTTP transaction; no upgrade happens
}

int LoopWorker::on_confirm_upgrade(lws* wsi, std::string_view upgrade) {
  if (phase_ != Phase::serving) return refuse_upgrade(wsi, 503, "shutting down");
  if (upgrade.size() != 9 || strncasecmp(upgrade.data(), "websocket", 9) != 0) {
    return refuse_upgrade(wsi, 400, "unsupported upgrade");
  }
  HttpRequest request = read_request(wsi, shared_.options.captured_headers);
  if (request.path.empty()) return refuse_upgrade(wsi, 400, "upgrade needs GET");
  if (const Refusal refusal = screen_request(shared_, request)) {
    return refuse_upgrade(wsi, refusal.status, refusal.body);
  }
  if (!request.header("host")) return refuse_upgrade(wsi, 400, "upgrade needs a Host header");
  if (request.header("sec-websocket-version").value_or("") != "13") {
    return refuse_upgrade(wsi, 426, "unsupported WebSocket version, use 13",
                          "Sec-WebSocket-Version: 13\r\n");
  }
  if (!is_valid_websocket_key(request.header("sec-websocket-key").value_or(""))) {
    return refuse_upgrade(wsi, 400, "missing or malformed Sec-WebSocket-Key");
  }
  std::string_view name;
  const RouteEntry* route = shared_.match_route(request.path, name);
  if (!route) return refuse_upgrade(wsi, 404, "no such route");
  if (!is_valid_route_name(name)) {
    return refuse_upgrade(wsi, 400,
                          "bad name: 1 to 256 bytes of letters, digits, -._~!$'()*,;=:@ "
                          "or UTF-8 from U+00A0");
  }

  request.route = route->prefix;
  request.name = std::string(name);
  request.loop = index_;
  std::string key = route->prefix + "/" + request.name;
  switch (shared_.limits.try_reserve(key, route->options.max_connections_per_name)) {
    case ConnectionLimits::Verdict::reserved:
      break;
    case ConnectionLimits::Verdict::server_full:
      return refuse_upgrade(wsi, 503, "server full");
    case ConnectionLimits::Verdict::name_full:
      return refuse_upgrade(wsi, 503, "name full");
  }

  Admission admission = Admission::reject(500, "authorize failed");
  guarded([&] { admission = route->handler->authorize(request); });
  if (!admission.admitted()) {
    shared_.limits.release(key);
    return refuse_upgrade(wsi, admission.status, admission.body);
  }

  PeerState& peer = state_of(wsi);
  peer.route = route;
  peer.limit_key = std::move(key);
  peer.reserved = true;
  peer.request = std::move(request);
  return 0;
}

int LoopWorker::on_established(lws* wsi) {
  auto* peer = static_cast<PeerState*>(lws_get_opaque_user_data(wsi));
  if (!peer || !peer->route) return -1;
  peer->id = ConnectionId{(next_serial_++ << 8) | index_};
  peer->opened = true;
  connections_.emplace(peer->id, peer);
  ++open_wsis_;
  AtomicCounters::bump(shared_.counters.connections_opened);
  AtomicCounters::bump(shared_.counters.connections_open);

  const HttpRequest request = std::move(peer->request);
  peer->request = HttpRequest{};
  const bool ok = guarded([&] { peer->route->handler->on_open(peer->id, request); });
  if (!ok) {
    request_close(*peer, close_code::internal_error, "handler failed", false);
  } else if (phase_ != Phase::serving) {
    request_close(*peer, close_code::going_away, "going away", false);
  }
  return 0;
}

int LoopWorker::on_receive(lws* wsi, PeerState& peer, const char* data, std::size_t len) {
  if (peer.closing) return 0;
  if (lws_is_first_fragment(wsi)) {
    peer.inbound.clear();
    peer.inbound_kind = lws_frame_is_binary(wsi) ? MessageKind::binary : MessageKind::text;
    peer.utf8_checked = 0;
    peer.inbound_fragmented = false;
  }
  // Counting what is still to come of this frame refuses a huge frame at its
  // first chunk, before any of it is buffered.
  const std::size_t remaining = lws_remaining_packet_payload(wsi);
  if (peer.inbound.size() + len + remaining > shared_.options.max_message_bytes) {
    AtomicCounters::bump(shared_.counters.closed_for_size);
    peer.failing = true;  // the rest of the frame is never read
    close_now(peer, close_code::message_too_big, "message too big");
    return 0;
  }
  peer.inbound.append(data, len);
  const bool final = lws_is_final_fragment(wsi);
  if (peer.inbound_kind == MessageKind::text &&
      !utf8_valid_so_far(peer.inbound, peer.utf8_checked, final)) {
    peer.failing = true;
    close_now(peer, close_code::invalid_payload, "invalid UTF-8");
    return 0;
  }
  if (!final) {
    if (remaining == 0) peer.inbound_fragmented = true;  // a frame ended, not the message
    return 0;
  }
  if (peer.inbound_fragmented) {
    // A ping may have come between the fragments: its pong goes first.
    peer.hold_direct_writes = true;
    lws_callback_on_writable(wsi);
  }

  AtomicCounters::bump(shared_.counters.frames_in);
  AtomicCounters::bump(shared_.counters.bytes_in, peer.inbound.size());
  if (!admit_rate(peer, peer.inbound.size())) return 0;  // closed: over its rate too long
  const bool ok =
      guarded([&] { peer.route->handler->on_message(peer.id, peer.inbound, peer.inbound_kind); });
  peer.inbound.clear();
  if (peer.inbound.capacity() > kept_inbound_capacity) std::string().swap(peer.inbound);
  if (!ok) request_close(peer, close_code::internal_error, "handler failed", false);
  return 0;
}

// Writing outside SERVER_WRITEABLE when nothing is waiting saves the
// writable round trip (two epoll_ctl per frame). It works with lws 4.1.6 on
// h1 (measured: twice the throughput of writing only on WRITEABLE). lws keeps
// what the socket does not take now and flushes it before our next
// WRITEABLE; the test of lws_partial_buffered means at most one write waits
// there, beside the bounded outbound queue.
bool LoopWorker::can_write_now(PeerState& peer) const {
  return !peer.closing && !peer.hold_direct_writes && peer.outbound.empty() &&
         !lws_partial_buffered(peer.wsi);
}

namespace {

// A server frame (unmasked, final) of `size` bytes: RFC 6455 section 5.2.
void append_frame_header(std::string& out, std::size_t size, MessageKind kind) {
  out += static_cast<char>(0x80 | (kind == MessageKind::text ? 0x1 : 0x2));
  if (size < 126) {
    out += static_cast<char>(size);
  } else if (size < 65536) {
    out += static_cast<char>(126);
    for (int shift = 8; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xff);
  }
}

// Corked frames of one connection past this are written at once.
constexpr std::size_t max_corked_bytes = 64 * 1024;

}  // namespace

// Frames written "at once" are framed here and written together just before
// the loop next polls: the frames a broadcast burst sends one connection
// leave in one send() instead of one each (lws_write with LWS_WRITE_RAW, which
// lws passes through unframed).
void LoopWorker::cork(PeerState& peer, const unsigned char* payload, std::size_t size,
                      MessageKind kind) {
  append_frame_header(peer.corked, size, kind);
  peer.corked.append(reinterpret_cast<const char*>(payload), size);
  AtomicCounters::bump(shared_.counters.frames_out);
  AtomicCounters::bump(shared_.counters.bytes_out, size);
  account(peer);
  // Smaller than the outbound limit, so that under drop_oldest what lws may
  // hold of one corked write leaves room for newer messages in the queue.
  const std::size_t threshold = std::min(max_corked_bytes, shared_.options.max_outbound_bytes / 4);
  if (peer.corked.size() >= threshold) return write_corked(peer);
  if (peer.in_cork_list) return;
  peer.in_cork_list = true;
  if (corked_.empty()) uv_prepare_start(&flush_, on_flush);
  corked_.push_back(&peer);
}

void LoopWorker::write_corked(PeerState& peer) {
  if (peer.corked.empty() || !peer.wsi || peer.close_frame_started) return;
  std::string out;
  out.swap(peer.corked);
  auto* data = reinterpret_cast<unsigned char*>(out.data());
  if (lws_write(peer.wsi, data, out.size(), LWS_WRITE_RAW) < static_cast<int>(out.size())) {
    account(peer);
    return close_now(peer, close_code::abnormal, "write failed");
  }
  if (lws_partial_buffered(peer.wsi)) {
    // Counted until lws has flushed it, which the next WRITEABLE tells.
    peer.lws_held_bytes += out.size();
    pause_for_backlog(peer);
    lws_callback_on_writable(peer.wsi);
  }
  account(peer);
}

void LoopWorker::on_flush(uv_prepare_t* handle) {
  static_cast<LoopWorker*>(handle->data)->flush_corked();
}

void LoopWorker::flush_corked() {
  std::vector<PeerState*> peers;
  peers.swap(corked_);
  uv_prepare_stop(&flush_);
  for (PeerState* peer : peers) {
    peer->in_cork_list = false;
    write_corked(*peer);
  }
}

bool LoopWorker::send_here(ConnectionId id, std::string_view data, MessageKind kind) {
  PeerState* peer = find(id);
  if (!peer || peer->closing) return false;
  if (!admit_outbound(*peer, data.size())) return false;
  if (!can_write_now(*peer)) return queue_send(*peer, OutFrame(data, kind));
  cork(*peer, reinterpret_cast<const unsigned char*>(data.data()), data.size(), kind);
  return true;
}

bool LoopWorker::close_here(ConnectionId id, std::uint16_t code, std::string_view reason) {
  PeerState* peer = find(id);
  if (!peer || peer->closing) return false;
  request_close(*peer, code, reason, true);
  return true;
}

bool LoopWorker::pause_reading_here(ConnectionId id, bool paused) {
  PeerState* peer = find(id);
  if (!peer || !peer->wsi || peer->closing) return false;
  lws_rx_flow_control(
      peer->wsi, (paused ? LWS_RXFLOW_REASON_APPLIES_DISABLE : LWS_RXFLOW_REASON_APPLIES_ENABLE) |
                     session_rxflow_reason);
  return true;
}

bool LoopWorker::queue_send(PeerState& peer, OutFrame&& frame) {
  if (peer.closing) return false;
  if (!admit_outbound(peer, frame.size())) return false;
  if (can_write_now(peer)) {
    cork(peer, frame.payload(), frame.size(), frame.kind());
    return true;
  }
  peer.outbound_bytes += frame.size();
  peer.outbound.push_back(std::move(frame));
  account(peer);
  lws_callback_on_writable(peer.wsi);
  return true;
}

bool LoopWorker::fits_outbound(const PeerState& peer, std::size_t size) const {
  const ws::Options& options = shared_.options;
  if (peer.held_bytes() + size > options.max_outbound_bytes) return false;
  return shared_.counters.outbound_bytes.load(std::memory_order_relaxed) + size <=
         options.max_total_outbound_bytes;
}

// Every message, written at once or queued, passes here first: a connection
// never holds more than max_outbound_bytes, nor the server more than
// max_total_outbound_bytes (give or take one message per loop).
bool LoopWorker::admit_outbound(PeerState& peer, std::size_t size) {
  if (fits_outbound(peer, size)) return true;
  const ws::Options& options = shared_.options;
  const bool too_big = size > options.max_outbound_bytes;
  if (options.overflow == ws::OverflowPolicy::close) {
    AtomicCounters::bump(shared_.counters.closed_for_overflow);
    const bool own = too_big || peer.held_bytes() + size > options.max_outbound_bytes;
    request_close(peer, close_code::policy_violation,
                  too_big ? "message over outbound limit"
                          : (own ? "outbound queue full" : "server outbound memory full"),
                  false);
    return false;
  }
  while (!too_big && !peer.outbound.empty() && !fits_outbound(peer, size)) {
    peer.outbound_bytes -= peer.outbound.front().size();
    peer.outbound.pop_front();
    AtomicCounters::bump(shared_.counters.frames_dropped);
    account(peer);
  }
  if (!too_big && fits_outbound(peer, size)) return true;
  AtomicCounters::bump(shared_.counters.frames_dropped);
  return false;
}

void LoopWorker::account(PeerState& peer) {
  const std::size_t held = peer.held_bytes();
  auto& total = shared_.counters.outbound_bytes;
  if (held > peer.accounted_bytes) {
    total.fetch_add(held - peer.accounted_bytes, std::memory_order_relaxed);
  } else if (held < peer.accounted_bytes) {
    total.fetch_sub(peer.accounted_bytes - held, std::memory_order_relaxed);
  }
  peer.accounted_bytes = held;
}

int LoopWorker::on_writeable(PeerState& peer) {
  peer.lws_held_bytes = 0;  // lws delivers WRITEABLE only once it flushed them
  account(peer);
  resume_after_backlog(peer);
  peer.hold_direct_writes = false;  // lws writes a pending pong before calling this
  // lws fails a connection itself (reserved bits or opcodes, a bad
  // continuation, a control frame too long or fragmented) with a close
  // frame whose reason it keeps in its close buffer, then waits 5 s for an
  // answer that its parser, left inside the bad frame, cannot recognise; the
  // same for the connections we fail. WRITEABLE comes once that close frame
  // is out: end our side of TCP now (RFC 6455 section 7.1.7). Not close():
  // with the rest of a bad frame still unread, the kernel would answer with
  // a reset, and a reset can destroy the close frame before the client
  // reads it. lws reads (and discards) until the client closes too, or
  // until close_timeout.
  const bool failed_by_lws = !peer.close_frame_started && lws_get_close_length(peer.wsi) > 0;
  if (failed_by_lws || (peer.failing && peer.close_frame_started)) {
    if (!peer.write_side_shut) {
      peer.write_side_shut = true;
      ::shutdown(lws_get_socket_fd(peer.wsi), SHUT_WR);
      const auto grace = std::max<long long>(1, shared_.options.close_timeout.count());
      lws_set_timeout(peer.wsi, PENDING_TIMEOUT_CLOSE_ACK, static_cast<int>(grace));
    }
    return 0;
  }
  if (peer.close_frame_started) return 0;
  if (!peer.corked.empty()) {  // only when closing: they go before the close frame
    write_corked(peer);
    lws_callback_on_writable(peer.wsi);
    return 0;
  }
  if (!peer.outbound.empty()) {
    OutFrame& frame = peer.outbound.front();
    const std::size_t size = frame.size();
    const auto mode = frame.kind() == MessageKind::text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
    // lws takes the whole frame: what the socket refuses now it keeps and
    // flushes before the next WRITEABLE, so at most one frame waits in lws.
    if (lws_write(peer.wsi, frame.payload(), size, mode) < static_cast<int>(size)) {
      report_close(peer, close_code::abnormal, "write failed");
      return -1;
    }
    AtomicCounters::bump(shared_.counters.frames_out);
    AtomicCounters::bump(shared_.counters.bytes_out, size);
    peer.outbound_bytes -= size;
    peer.outbound.pop_front();
    if (lws_partial_buffered(peer.wsi)) {
      peer.lws_held_bytes = size;
      pause_for_backlog(peer);
    }
    account(peer);
    if (!peer.outbound.empty() || peer.closing || peer.lws_held_bytes > 0)
      lws_callback_on_writable(peer.wsi);
    return 0;
  }
  if (peer.closing) close_now(peer, peer.close_code, peer.close_reason);
  return 0;
}

void LoopWorker::request_close(PeerState& peer, std::uint16_t code, std::string_view reason,
                               bool flush) {
  if (peer.closing) return;
  peer.closing = true;
  peer.close_code = code;
  peer.close_reason = std::string(reason.substr(0, max_close_reason_bytes));
  if (!flush) {
    peer.outbound.clear();
    peer.outbound_bytes = 0;
    peer.corked.clear();
    account(peer);
  }
  // A peer that reads nothing never lets lws call WRITEABLE again; this bounds
  // how long it can hold the connection (lws then drops it without a frame).
  const auto grace = std::max<long long>(1, shared_.options.close_timeout.count());
  lws_set_timeout(peer.wsi, PENDING_TIMEOUT_USER_OK, static_cast<int>(grace));
  lws_callback_on_writable(peer.wsi);
  report_close(peer, peer.close_code, peer.close_reason);
}

void LoopWorker::close_now(PeerState& peer, std::uint16_t code, std::string_view reason) {
  if (!peer.closing) {
    peer.closing = true;
    peer.close_code = code;
    peer.close_reason = std::string(reason.substr(0, max_close_reason_bytes));
    peer.outbound.clear();
    peer.outbound_bytes = 0;
    peer.corked.clear();
    account(peer);
    report_close(peer, peer.close_code, peer.close_reason);
  }
  peer.close_frame_started = true;
  lws_close_reason(peer.wsi, static_cast<lws_close_status>(peer.close_code),
                   reinterpret_cast<unsigned char*>(peer.close_reason.data()),
                   peer.close_reason.size());
  // May run CLOSED synchronously; `peer` itself lives until WSI_DESTROY.
  lws_set_timeout(peer.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

void LoopWorker::report_close(PeerState& peer, std::uint16_t code, std::string_view reason) {
  peer.closing = true;
  if (peer.reported || !peer.opened) return;
  peer.reported = true;
  connections_.erase(peer.id);
  guarded([&] { peer.route->handler->on_close(peer.id, code, reason); });
}

// lws echoes the peer's close payload and has already replaced a code that
// may not be sent on the wire by 1002; a 1-byte payload, a code past 4999
// (none is defined, RFC 6455 section 7.4.2) or a reason that is not UTF-8
// (sections 5.5.1, 7.1.6) it would echo or drop silently, so those fail the
// connection here with a close frame of our own.
int LoopWorker::on_peer_close(PeerState& peer, const unsigned char* payload, std::size_t len) {
  std::uint16_t code = close_code::no_status;
  std::string_view reason;
  if (payload && len >= 2) {
    code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
    reason = std::string_view(reinterpret_cast<const char*>(payload) + 2, len - 2);
  }
  std::uint16_t answer = 0;
  std::string_view why;
  if (len == 1) {
    answer = close_code::protocol_error, why = "bad close frame";
  } else if (code >= 5000) {
    answer = close_code::protocol_error, why = "bad close code";
  } else if (!is_valid_utf8(reason)) {
    answer = close_code::invalid_payload, why = "close reason not UTF-8";
  }
  if (answer == 0) {
    // Messages that came before the close were delivered; what they caused
    // to be sent goes to lws now, which writes everything it holds before
    // the close frame it echoes (docs/net.md, "Conformance").
    write_corked(peer);
    for (OutFrame& frame : peer.outbound) {
      const auto mode = frame.kind() == MessageKind::text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
      if (lws_write(peer.wsi, frame.payload(), frame.size(), mode) < static_cast<int>(frame.size()))
        break;
      AtomicCounters::bump(shared_.counters.frames_out);
      AtomicCounters::bump(shared_.counters.bytes_out, frame.size());
    }
    peer.outbound.clear();
    peer.outbound_bytes = 0;
    account(peer);
    report_close(peer, code, reason);
    return 0;
  }
  report_close(peer, answer, why);
  peer.close_frame_started = true;
  // lws takes a second close frame for data: it would never see the answer.
  peer.failing = true;
  std::string text(why);
  lws_close_reason(peer.wsi, static_cast<lws_close_status>(answer),
                   reinterpret_cast<unsigned char*>(text.data()), text.size());
  return -1;  // from a receive path lws sends the close frame set above
}

void LoopWorker::on_closed(PeerState& peer, bool close_buffer_readable) {
  if (!peer.reported && close_buffer_readable) {
    // lws answers protocol errors (1002, 1007) itself; the code it sent is
    // still in its close buffer. Nothing there means no close handshake.
    std::uint16_t code = close_code::abnormal;
    std::string reason;
    const int length = lws_get_close_length(peer.wsi);
    if (length >= 2) {
      const unsigned char* payload = lws_get_close_payload(peer.wsi);
      code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
      reason.assign(reinterpret_cast<const char*>(payload) + 2,
                    static_cast<std::size_t>(length) - 2);
    }
    report_close(peer, code, reason);
  }
  report_close(peer, close_code::abnormal, {});
  if (peer.opened && !peer.counted_closed) {
    peer.counted_closed = true;
    --open_wsis_;
    shared_.counters.connections_open.fetch_sub(1, std::memory_order_relaxed);
  }
}

void LoopWorker::on_wsi_destroy(lws* wsi) {
  auto* peer = static_cast<PeerState*>(lws_get_opaque_user_data(wsi));
  if (!peer) return;
  lws_set_opaque_user_data(wsi, nullptr);
  if (peer->opened) on_closed(*peer, false);
  if (peer->in_cork_list) std::erase(corked_, peer);
  if (peer->rx_paused) forget_throttled(peer);
  peer->outbound.clear();
  peer->outbound_bytes = 0;
  peer->corked.clear();
  peer->lws_held_bytes = 0;
  account(*peer);
  if (peer->reserved) {
    shared_.limits.release(peer->limit_key);
    peer->reserved = false;
  }
  peer->wsi = nullptr;
  // Freed outside lws callbacks: callers up the stack may still hold it.
  retired_.push_back(peer);
  if (phase_ != Phase::released) uv_async_send(&wake_);
}

}  // namespace troupe::detail
