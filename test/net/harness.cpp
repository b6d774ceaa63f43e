#include "test/net/harness.hpp"

#include <cstdio>
#include <cstdlib>

namespace troupe::test {

Admission RecordingHandler::authorize(const HttpRequest& request) {
  return authorizer ? authorizer(request) : Admission::admit();
}

void RecordingHandler::on_open(ConnectionId id, const HttpRequest& request) {
  Event event{Event::Kind::open, id};
  event.request = request;
  record(std::move(event));
}

void RecordingHandler::on_message(ConnectionId id, std::string_view data, MessageKind kind) {
  if (ws::Server* server = echo_to.load()) server->send(id, data, kind);
  Event event{Event::Kind::message, id, std::string(data), kind};
  record(std::move(event));
}

void RecordingHandler::on_close(ConnectionId id, std::uint16_t code, std::string_view reason) {
  Event event{Event::Kind::close, id, std::string(reason)};
  event.code = code;
  record(std::move(event));
}

void RecordingHandler::record(Event event) {
  event.thread = std::this_thread::get_id();
  std::lock_guard lock(mu_);
  events_.push_back(std::move(event));
  taken_.push_back(false);
  cv_.notify_all();
}

std::optional<Event> RecordingHandler::wait(Event::Kind kind, milliseconds timeout,
                                            ConnectionId id) {
  std::unique_lock lock(mu_);
  std::optional<Event> found;
  cv_.wait_for(lock, timeout, [&] {
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (taken_[i] || events_[i].kind != kind || (id && events_[i].id != id)) continue;
      taken_[i] = true;
      found = events_[i];
      return true;
    }
    return false;
  });
  return found;
}

std::size_t RecordingHandler::count(Event::Kind kind) {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& event : events_) n += event.kind == kind;
  return n;
}

Watchdog::Watchdog(milliseconds limit) {
  thread_ = std::thread([this, limit] {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
      std::fprintf(stderr, "watchdog: test exceeded %lld ms\n",
                   static_cast<long long>(limit.count()));
      std::abort();
    }
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

TestServer::TestServer(ws::Options options, std::size_t loops,
                       std::function<void(ws::Server&)> configure) {
  std::vector<ws::EventLoop> event_loops;
  for (std::size_t i = 0; i < loops; ++i) {
    threads_.push_back(std::make_unique<LoopThread>());
    event_loops.push_back(threads_.back()->event_loop());
  }
  server_ = std::make_unique<ws::Server>(std::move(event_loops), std::move(options));
  if (configure) {
    configure(*server_);
  } else {
    handler_->echo_to = server_.get();
    server_->add_route("/echo", handler_);
  }
  if (auto error = server_->start()) {
    std::fprintf(stderr, "server start failed: %s\n", error.message().c_str());
    std::abort();
  }
}

TestServer::~TestServer() {
  if (!stopped_) stop();
}

bool TestServer::stop() {
  stopped_ = true;
  server_->shutdown();
  server_->wait_stopped();
  bool clean = true;
  for (auto& thread : threads_) clean = thread->join() == 0 && clean;
  return clean;
}

ws::Options quick_options() {
  ws::Options options;
  options.shutdown_timeout = 500ms;
  options.close_timeout = 1s;
  options.handshake_timeout = 2s;
  return options;
}

}  // namespace troupe::test
