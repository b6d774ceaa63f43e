#pragma once
// Connection: one client connection as its session sees it (session.hpp).
// The gateway owns the socket; a session sends, closes, and keeps tags and a
// small state per connection.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/ws/types.hpp"
#include "runtime/export.hpp"

namespace troupe {

namespace ws {
class Server;
}
namespace detail {
struct SessionAccess;
// How far a session got with one connection's frames (sequence numbers),
// shared with the gateway's relay: the frame it last took up, and the last
// one whose on_message returned. taken > handled after a crash: that frame
// was being handled.
struct TROUPE_EXPORT FrameProgress {
  std::atomic<std::uint64_t> taken{0};
  std::atomic<std::uint64_t> handled{0};
};

// Where the frames and closes of connections without a socket go: those of
// troupe::testing's SessionHarness (testing/session_harness.hpp), which
// records them for its test. The gateway's own connections have none and
// go to its ws::Server; same contract as ws::Server::send and close.
class TROUPE_EXPORT ConnectionSink {
 public:
  virtual bool send(ConnectionId id, std::string_view data, MessageKind kind) = 0;
  virtual void close(ConnectionId id, std::uint16_t code, std::string_view reason) = 0;
  // The session returned from on_message for frame `seq` of `id` (a
  // cluster's remote connection reports it to the node holding the socket).
  virtual void handled(ConnectionId /*id*/, std::uint64_t /*seq*/) {}

 protected:
  ~ConnectionSink() = default;
};
}  // namespace detail

// One client connection as its session sees it. The gateway owns the socket;
// send and close may be called from the session (and are safe from any
// thread). Tags and `state` belong to the session.
class TROUPE_EXPORT Connection {
 public:
  // Frames go to `server`, or to `sink` if given (a SessionHarness's).
  Connection(ConnectionId id, ws::Server* server, detail::ConnectionSink* sink = nullptr)
      : id_(id), server_(server), sink_(sink) {}

  ConnectionId id() const { return id_; }
  // Queues a frame; false if the connection is already gone, or if a text
  // frame is not valid UTF-8 (refused, nothing sent, the connection stays
  // open; ws::Server::send).
  bool send(std::string_view data, MessageKind kind = MessageKind::text) const;
  // Closes after the queued frames are flushed.
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {}) const;

  void tag(std::string t) { tags_.push_back(std::move(t)); }
  bool has_tag(std::string_view t) const;
  const std::vector<std::string>& tags() const { return tags_; }
  // A small per-connection key/value state (a nickname, a role).
  std::map<std::string, std::string, std::less<>> state;

 private:
  friend struct detail::SessionAccess;
  ConnectionId id_;
  ws::Server* server_;
  detail::ConnectionSink* sink_;  // null but in a SessionHarness and for a remote connection
  // A remote connection's (its socket is on another node of the cluster).
  std::shared_ptr<detail::ConnectionSink> remote_;
  std::vector<std::string> tags_;
  // How far the session got with this connection's frames, shared with the
  // gateway's relay, and the relay's count of frames not taken up yet.
  std::shared_ptr<detail::FrameProgress> progress_;
  std::atomic<std::int64_t>* pending_ = nullptr;
};

}  // namespace troupe
