#pragma once
// Test support: a route handler that records every event (and can echo), and
// a server on N LoopThreads with a watchdog so that no test can hang.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/ws/server.hpp"
#include "test/net/loop_thread.hpp"

namespace troupe::test {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct Event {
  enum class Kind { open, message, close } kind;
  ConnectionId id;
  std::string data;  // message data, or close reason
  MessageKind message_kind = MessageKind::text;
  std::uint16_t code = 0;
  HttpRequest request;  // for open
  std::thread::id thread;
};

class RecordingHandler : public ws::Handler {
 public:
  // When echo is on, every message is sent back through `server`.
  std::function<Admission(const HttpRequest&)> authorizer;
  std::atomic<ws::Server*> echo_to{nullptr};

  Admission authorize(const HttpRequest& request) override;
  void on_open(ConnectionId id, const HttpRequest& request) override;
  void on_message(ConnectionId id, std::string_view data, MessageKind kind) override;
  void on_close(ConnectionId id, std::uint16_t code, std::string_view reason) override;

  // Waits for the first event of `kind` (for `id`, when given) not yet taken
  // by a previous wait of that kind, and takes it.
  std::optional<Event> wait(Event::Kind kind, milliseconds timeout, ConnectionId id = {});
  std::size_t count(Event::Kind kind);

 private:
  void record(Event event);
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::vector<bool> taken_;
};

// Aborts the process if a test runs past its time: a hang is a failure too.
class Watchdog {
 public:
  explicit Watchdog(milliseconds limit);
  ~Watchdog();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class TestServer {
 public:
  // `configure` runs before start() to add routes and handlers; by default a
  // RecordingHandler that echoes is served at "/echo".
  explicit TestServer(ws::Options options = {}, std::size_t loops = 1,
                      std::function<void(ws::Server&)> configure = {});
  ~TestServer();

  ws::Server& server() { return *server_; }
  RecordingHandler& handler() { return *handler_; }
  std::uint16_t port() const { return server_->port(); }
  LoopThread& loop(std::size_t i) { return *threads_[i]; }
  // Shuts down, waits, joins the loops; true when every uv_loop_close gave 0.
  bool stop();

 private:
  std::vector<std::unique_ptr<LoopThread>> threads_;
  std::shared_ptr<RecordingHandler> handler_ = std::make_shared<RecordingHandler>();
  std::unique_ptr<ws::Server> server_;
  bool stopped_ = false;
};

ws::Options quick_options();  // small timeouts for tests

}  // namespace troupe::test
