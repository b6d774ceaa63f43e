#pragma once
// Test support: WebSocket clients built on libwebsockets' client API, all run
// by one lws context on its own thread (independent of the server's loops).
// Every method may be called from any thread; waits take a timeout.

#include <libwebsockets.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/ws/types.hpp"

namespace troupe::test {

using std::chrono::milliseconds;

struct ClientMessage {
  std::string data;
  MessageKind kind = MessageKind::text;
};

struct ClientClose {
  std::uint16_t code = 0;  // 1006 when the connection ended without a close frame
  std::string reason;
};

class WsTestClient;

class ClientConnection {
 public:
  // True once the upgrade completed; false if it failed or timed out.
  bool wait_open(milliseconds timeout);
  bool failed() const;
  int refused_status() const;  // HTTP status of a refused upgrade, if lws saw one

  void send(std::string data, MessageKind kind = MessageKind::text);
  void close(std::uint16_t code, std::string reason);
  // Stop or resume reading the socket (a slow reader, seen from the server).
  void pause_reading(bool paused);

  std::optional<ClientMessage> next_message(milliseconds timeout);
  std::optional<ClientClose> wait_closed(milliseconds timeout);

 private:
  friend class WsTestClient;
  enum class State { connecting, open, failed, closed };

  WsTestClient* client_ = nullptr;
  lws* wsi_ = nullptr;                  // service thread only
  std::deque<ClientMessage> outbound_;  // service thread only
  std::string inbound_;                 // service thread only
  MessageKind inbound_kind_ = MessageKind::text;
  bool close_requested_ = false;           // service thread only
  ClientClose close_request_;              // service thread only
  std::optional<ClientClose> peer_close_;  // service thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::connecting;
  int refused_status_ = 0;
  std::deque<ClientMessage> received_;
  ClientClose closed_;
};

struct ConnectOptions {
  std::string origin;
  std::string address = "127.0.0.1";
};

class WsTestClient {
 public:
  WsTestClient();
  ~WsTestClient();

  std::shared_ptr<ClientConnection> connect(std::uint16_t port, std::string path,
                                            ConnectOptions options = {});

  int on_event(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len);

 private:
  friend class ClientConnection;
  struct Pending {
    std::shared_ptr<ClientConnection> connection;
    std::uint16_t port;
    std::string path;
    ConnectOptions options;
  };
  void run_on_service(std::function<void()> fn);
  void drain();
  void start_connect(Pending& pending);
  static void finish(ClientConnection& c, ClientConnection::State state, ClientClose close);

  lws_context* context_ = nullptr;
  lws_protocols protocols_[2];
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> commands_;
  std::vector<std::shared_ptr<ClientConnection>> connections_;  // keeps them alive
};

}  // namespace troupe::test
