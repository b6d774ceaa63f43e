// Fairness: per-connection rate limits (ws::RouteLimits::rate_limit). A client
// over its rate is slowed (its socket is not read) so that the messages of
// others sharing its session are not queued behind its flood; one that stays
// over its rate is closed with 1008.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "net/ws/detail/rate_limit.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Stands in for a session actor: every message of every connection goes
// through one FIFO worker that spends some work on each and then answers
// the sender, so a flood read into it delays everyone behind it.
class RoomHandler : public ws::Handler {
 public:
  explicit RoomHandler(std::chrono::microseconds work) : work_(work) {
    worker_ = std::thread([this] { run(); });
  }
  ~RoomHandler() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  std::atomic<ws::Server*> server{nullptr};
  std::atomic<int> flood_processed{0};

  void on_open(ConnectionId, const HttpRequest&) override {}
  void on_close(ConnectionId, std::uint16_t, std::string_view) override {}
  void on_message(ConnectionId id, std::string_view data, MessageKind) override {
    {
      std::lock_guard lock(mu_);
      queue_.emplace_back(id, std::string(data));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto [id, data] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(work_);  // the session's work on the message
      if (data.starts_with("flood")) ++flood_processed;
      if (ws::Server* s = server.load()) s->send(id, data);
      lock.lock();
    }
  }

  std::chrono::microseconds work_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<ConnectionId, std::string>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace

TEST_GROUP(ResourceRate) {
  Watchdog watchdog{30s};
};

TEST(ResourceRate, TokenBucketAllowsItsBurstThenItsRate) {
  detail::TokenBucket bucket(100, 10, 1000);  // 100/s, burst 10, at t = 1 s
  for (int i = 0; i < 10; ++i) CHECK_TRUE(bucket.take(1, 1000));
  CHECK_FALSE(bucket.take(1, 1000));              // the 11th goes into debt
  CHECK_EQUAL(10u, bucket.ms_until_clear(1000));  // one token at 100/s
  CHECK_EQUAL(0u, bucket.ms_until_clear(1010));
  CHECK_TRUE(bucket.take(1, 1020));  // refilled at its rate
  CHECK_TRUE(bucket.take(0, 100000));
  for (int i = 0; i < 10; ++i) CHECK_TRUE(bucket.take(1, 100000));  // never above the burst
  CHECK_FALSE(bucket.take(1, 100000));
}

TEST(ResourceRate, LimiterClosesOnlyAClientThatStaysOverItsRate) {
  ws::RateLimit limit{100, 10, 0, 0, std::chrono::milliseconds(500)};
  detail::RateLimiter limiter(limit, 1);
  using Verdict = detail::RateLimiter::Verdict;
  std::uint64_t now = 1;
  for (int i = 0; i < 10; ++i) CHECK_TRUE(limiter.on_message(10, now) == Verdict::within);
  CHECK_TRUE(limiter.on_message(10, now) == Verdict::slow);
  // Resumed as soon as it may send again, it floods on: over for 500 ms.
  while (now < 600) {
    now = limiter.resume_at(now);
    const auto verdict = limiter.on_message(10, now);
    if (now - 1 >= 500) {
      CHECK_TRUE(verdict == Verdict::close);
      break;
    }
    CHECK_TRUE(verdict == Verdict::slow);
  }
  // Another that pauses long enough to refill is within its rate again.
  detail::RateLimiter paced(limit, 1);
  for (int i = 0; i < 11; ++i) paced.on_message(10, 1);
  CHECK_TRUE(paced.on_message(10, 2000) == Verdict::within);
  CHECK_TRUE(paced.on_message(10, 2600) == Verdict::within);
  CHECK_FALSE(detail::RateLimiter(ws::RateLimit::unlimited(), 1).enabled());
}

// Before: a client keeping 1,000 messages in flight moved the others' ack
// median from 3.9 ms to 4.8 s: its whole flood was read into the session
// ahead of them.
TEST(ResourceRate, PacedClientIsAnsweredWhileAnotherFloodsTheSameRoom) {
  auto room = std::make_shared<RoomHandler>(std::chrono::microseconds(200));
  ws::RouteLimits route;
  route.rate_limit = {200, 20, 0, 0, std::chrono::milliseconds(0)};  // slow, never close
  TestServer server(quick_options(), 1, [&](ws::Server& s) {
    s.add_route("/room", room, route);
    room->server = &s;
  });

  RawClient flooder, paced;
  CHECK_TRUE(flooder.connect(server.port()));
  CHECK_EQUAL(101, flooder.upgrade("/room/shared"));
  CHECK_TRUE(paced.connect(server.port()));
  CHECK_EQUAL(101, paced.upgrade("/room/shared"));

  // The whole flood is in the server's socket before the paced client starts.
  const int flood = 2000;
  for (int i = 0; i < flood; ++i)
    CHECK_TRUE(flooder.send_frame(opcode::text, "flood " + std::to_string(i)));

  for (int i = 0; i < 20; ++i) {
    const std::string ask = "paced " + std::to_string(i);
    CHECK_TRUE(paced.send_frame(opcode::text, ask));
    const auto answer = paced.read_frame(5s);
    CHECK_TRUE(answer.has_value());
    STRCMP_EQUAL(ask.c_str(), answer->payload.c_str());
  }
  // Not queued behind the flood: most of it has not even been read yet.
  const int processed = room->flood_processed.load();
  std::fprintf(stderr, "flood messages processed during 20 paced round trips: %d of %d\n",
               processed, flood);
  CHECK_TRUE(processed < flood / 2);
  CHECK_TRUE(server.server().counters().throttled > 0);
  room->server = nullptr;
  CHECK_TRUE(server.stop());
}

// Before: no rate limit, so nothing ever closed a flooder.
TEST(ResourceRate, ClientThatStaysOverItsRateIsClosedWith1008) {
  ws::RouteLimits route;
  route.rate_limit = {100, 10, 0, 0, std::chrono::milliseconds(300)};
  auto handler = std::make_shared<RecordingHandler>();
  TestServer server(quick_options(), 1,
                    [&](ws::Server& s) { s.add_route("/strict", handler, route); });

  RawClient flooder;
  CHECK_TRUE(flooder.connect(server.port()));
  CHECK_EQUAL(101, flooder.upgrade("/strict/room"));
  for (int i = 0; i < 500; ++i) flooder.send_frame(opcode::text, "x");
  std::optional<RawFrame> frame;
  do frame = flooder.read_frame(5s);
  while (frame && frame->opcode != opcode::close);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(1008, frame->close_code());
  const auto closed = handler->wait(Event::Kind::close, 3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1008, closed->code);
  STRCMP_EQUAL("rate limit exceeded", closed->data.c_str());
  CHECK_TRUE(handler->count(Event::Kind::message) < 500u);
  CHECK_EQUAL(1u, server.server().counters().closed_for_rate);
  CHECK_TRUE(server.stop());
}
