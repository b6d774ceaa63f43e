// The node link: LinkFrame's codec and FrameDecoder (pure), and LinkHub on
// real loopback sockets, each hub on its own uv loop thread, with raw
// blocking sockets playing hostile or stuck peers.
#include <CppUTest/TestHarness.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/link/frame.hpp"
#include "cluster/link/link_hub.hpp"
#include "test/support/free_port.hpp"
#include "test/support/log_recorder.hpp"

using namespace troupe;
using namespace troupe::cluster;
using namespace std::chrono_literals;

namespace {

// The hubs' info lines (links up and down) would bury the test output; the
// tests that read log records raise the level for their own duration.
struct QuietLogs {
  QuietLogs() { set_log_level(LogLevel::error); }
} quiet_logs;

struct WarningsKept {
  WarningsKept() { set_log_level(LogLevel::warning); }
  ~WarningsKept() { set_log_level(LogLevel::error); }
};

// ---------------------------------------------------------------- codec helpers

std::vector<LinkFrame> decode_all(FrameDecoder& d, std::string_view bytes, bool* ok = nullptr) {
  std::vector<LinkFrame> out;
  bool r = d.feed(bytes, [&](LinkFrame&& f) {
    out.push_back(std::move(f));
    return true;
  });
  if (ok) *ok = r;
  return out;
}

// A body written by hand, with its length prefix.
std::string framed(const std::string& body) {
  std::string out;
  for (int i = 3; i >= 0; --i) out += static_cast<char>((body.size() >> (8 * i)) & 0xff);
  return out + body;
}

LinkFrame sample(FrameType type, std::uint64_t n = 7) {
  return {type, n * 1000003, n, "text-" + std::to_string(n), std::string("\0bin\xff", 5)};
}

// ---------------------------------------------------------------- a loop thread

// A uv loop run by its own thread; run() executes a function on it and waits.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_,
                  [](uv_async_t* a) { static_cast<LoopThread*>(a->data)->drain(); });
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~LoopThread() {
    post([this] {
      // Whatever the test left open (a hub it closed has none).
      uv_walk(
          &loop_,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
          },
          nullptr);
    });
    thread_.join();
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() { return &loop_; }

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }
  void run(const std::function<void()>& fn) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    post([&] {
      fn();
      std::lock_guard lock(m);
      done = true;
      cv.notify_all();
    });
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, 10s, [&] { return done; })) FAIL("the loop thread did not run a task");
  }
  // Blocks the loop thread until resume(): a stopped process, as the peers see it.
  void pause() {
    {
      std::lock_guard lock(pause_mutex_);
      paused_ = true;
    }
    std::atomic<bool> entered{false};
    post([this, &entered] {
      entered = true;
      std::unique_lock lock(pause_mutex_);
      pause_cv_.wait(lock, [this] { return !paused_; });
    });
    while (!entered) std::this_thread::yield();
  }
  void resume() {
    std::lock_guard lock(pause_mutex_);
    paused_ = false;
    pause_cv_.notify_all();
  }

 private:
  void drain() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
  }

  uv_loop_t loop_;
  uv_async_t async_;
  std::thread thread_;
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
  std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
  bool paused_ = false;
};

// ---------------------------------------------------------------- what a hub's hooks saw

struct Events {
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> log;   // "up n2 5", "down n2 <why>", "pressure n2 1"
  std::vector<LinkFrame> frames;  // the first 1000 frames
  std::size_t frames_count = 0;
  std::map<std::uint64_t, std::uint64_t> next_num;  // per conn: the num expected next
  std::size_t out_of_order = 0;
  std::function<bool(const std::string&, std::uint64_t)> accept = [](auto&, auto) {
    return true;
  };

  void add(std::string line) {
    std::lock_guard lock(mutex);
    log.push_back(std::move(line));
    cv.notify_all();
  }
  void frame(LinkFrame&& f) {
    std::lock_guard lock(mutex);
    auto& next = next_num[f.conn];
    if (f.num != next) ++out_of_order;
    next = f.num + 1;
    if (frames.size() < 1000) frames.push_back(std::move(f));
    ++frames_count;
    cv.notify_all();
  }
  // Waits (bounded) until pred holds, under the lock.
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 10s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, deadline, pred);
  }
  std::size_t count(const std::string& prefix) const {
    std::lock_guard lock(mutex);
    return count_locked(prefix);
  }
  std::size_t count_locked(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& l : log) n += l.rfind(prefix, 0) == 0;
    return n;
  }
  bool wait_for_line(const std::string& prefix, std::size_t n = 1,
                     std::chrono::milliseconds deadline = 10s) {
    return wait([&] { return count_locked(prefix) >= n; }, deadline);
  }
  std::string line(const std::string& prefix) const {
    std::lock_guard lock(mutex);
    for (const auto& l : log)
      if (l.rfind(prefix, 0) == 0) return l;
    return "";
  }
  std::string all() const {
    std::lock_guard lock(mutex);
    std::string s;
    for (const auto& l : log) s += l + "\n";
    return s;
  }
};

LinkHubOptions quick_options(const std::string& node, std::uint64_t incarnation = 1) {
  LinkHubOptions o;
  o.cluster = "test";
  o.node_id = node;
  o.incarnation = incarnation;
  o.reconnect = Backoff{.base = 10ms, .cap = 100ms, .jitter = 1.0};
  return o;
}

// A LinkHub on its own loop thread, its hooks writing into `events`.
class Node {
 public:
  explicit Node(LinkHubOptions options) : id(options.node_id) {
    LinkHubHooks hooks;
    hooks.accept_peer = [this](const std::string& n, std::uint64_t inc) {
      return events.accept(n, inc);
    };
    hooks.on_up = [this](const std::string& n, std::uint64_t inc) {
      events.add("up " + n + " " + std::to_string(inc));
    };
    hooks.on_down = [this](const std::string& n, const std::string& why) {
      events.add("down " + n + " " + why);
    };
    hooks.on_frame = [this](const std::string&, LinkFrame&& f) {
      events.frame(std::move(f));
    };
    hooks.on_pressure = [this](const std::string& n, bool congested) {
      events.add("pressure " + n + " " + (congested ? "1" : "0"));
    };
    loop.run([&] { hub = std::make_unique<LinkHub>(loop.get(), options, hooks); });
  }
  ~Node() { close(); }

  std::uint16_t listen(std::uint16_t port = 0) {
    std::error_code ec;
    loop.run([&] { ec = hub->listen("127.0.0.1", port); });
    if (ec) FAIL(("listen: " + ec.message()).c_str());
    return hub->port();
  }
  void connect(const Node& peer) { connect(peer.id, peer.hub->port()); }
  void connect(const std::string& node, std::uint16_t port) { connect(node, "127.0.0.1", port); }
  void connect(const std::string& node, const std::string& host, std::uint16_t port) {
    loop.run([&] { hub->connect(node, host, port); });
  }
  void forget(const std::string& node) {
    loop.run([&] { hub->forget(node); });
  }
  void close() {
    if (!hub) return;
    std::promise<void> closed;
    loop.run([&] { hub->close([&] { closed.set_value(); }); });
    CHECK_TRUE(closed.get_future().wait_for(10s) == std::future_status::ready);
    loop.run([&] { hub.reset(); });
  }
  const LinkCounters& counters() const { return hub->counters(); }

  const std::string id;
  Events events;
  LoopThread loop;
  std::unique_ptr<LinkHub> hub;
};

// Polls (bounded) until cond holds: for counters and other state with no event.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds deadline = 10s) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---------------------------------------------------------------- a raw peer

// A blocking loopback socket, to speak (or not) the link protocol by hand.
class RawPeer {
 public:
  // receive_buffer: SO_RCVBUF, set before connecting so that the window stays small.
  explicit RawPeer(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) FAIL("raw connect");
  }
  ~RawPeer() { ::close(fd_); }

  void write(const std::string& bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return;  // the hub closed it; the test checks that
      at += static_cast<std::size_t>(n);
    }
  }
  // Sends a hello as a peer node would.
  void hello(const std::string& node, std::uint64_t incarnation,
             const std::string& cluster = "test", std::uint32_t version = link_protocol_version) {
    std::string data;
    data += static_cast<char>(0x92);  // array of 2
    data += static_cast<char>(0xce);  // uint32
    for (int i = 3; i >= 0; --i) data += static_cast<char>((version >> (8 * i)) & 0xff);
    data += static_cast<char>(0xa0 | cluster.size());  // fixstr (short names only)
    data += cluster;
    write(encode_frame({FrameType::hello, 0, incarnation, node, data}));
  }
  // The next frame, waiting up to `deadline`; nullopt-like false if none.
  bool read_frame(LinkFrame& out, std::chrono::milliseconds deadline = 10s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (frames_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readable(static_cast<int>(left.count()))) return false;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)), [&](LinkFrame&& f) {
        frames_.push_back(std::move(f));
        return true;
      });
    }
    out = std::move(frames_.front());
    frames_.pop_front();
    return true;
  }
  // Whether the hub closed the connection within `deadline` (reading and
  // discarding anything before the end).
  bool closed_by_hub(std::chrono::milliseconds deadline = 10s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readable(static_cast<int>(left.count()))) return false;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }
  // Reads and discards whatever is there now; the bytes read.
  std::size_t drain_available() {
    std::size_t total = 0;
    while (readable(0)) {
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
    }
    return total;
  }

 private:
  bool readable(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }

  int fd_;
  FrameDecoder decoder_;
  std::deque<LinkFrame> frames_;
};

}  // namespace

// ================================================================ LinkFrame

TEST_GROUP(LinkFrame){};

TEST(LinkFrame, EveryTypeRoundTrips) {
  std::string bytes;
  std::vector<LinkFrame> sent;
  for (std::uint8_t t = 1; t <= max_frame_type; ++t) {
    sent.push_back(sample(static_cast<FrameType>(t), t));
    bytes += encode_frame(sent.back());
  }
  sent.push_back({FrameType::frame, UINT64_MAX, UINT64_MAX, "", ""});
  bytes += encode_frame(sent.back());
  FrameDecoder d;
  bool ok = false;
  auto got = decode_all(d, bytes, &ok);
  CHECK_TRUE(ok);
  CHECK_TRUE(got == sent);
  LONGS_EQUAL(0, d.buffered());
}

TEST(LinkFrame, DecodesTheSameInAnyChunking) {
  std::string bytes;
  std::vector<LinkFrame> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(sample(FrameType::frame, i));
    sent.back().data = std::string(static_cast<std::size_t>(i * 37), 'x');
    bytes += encode_frame(sent.back());
  }
  for (std::size_t chunk : {1u, 2u, 3u, 5u, 17u, 1000u}) {
    FrameDecoder d;
    std::vector<LinkFrame> got;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
      auto part = decode_all(d, std::string_view(bytes).substr(at, chunk));
      for (auto& f : part) got.push_back(std::move(f));
    }
    CHECK_TRUE(got == sent);
  }
}

TEST(LinkFrame, OversizeLengthFailsBeforeTheBodyArrives) {
  FrameDecoder d(1000);
  bool ok = true;
  auto got = decode_all(d, std::string("\x00\x00\x03\xe9", 4), &ok);  // 1001
  CHECK_FALSE(ok);
  CHECK_TRUE(got.empty());
  CHECK_TRUE(d.failed());
  STRCMP_CONTAINS("1001 bytes is over max_frame_bytes (1000)", d.error().c_str());
  // The same, the length split over two feeds.
  FrameDecoder d2(1000);
  decode_all(d2, std::string("\xff\xff", 2));
  decode_all(d2, std::string("\xff\xff", 2), &ok);
  CHECK_FALSE(ok);
  STRCMP_CONTAINS("4294967295 bytes is over max_frame_bytes", d2.error().c_str());
}

TEST(LinkFrame, NeverBuffersMoreThanOneMaximalFrame) {
  const std::size_t max = 4096;
  LinkFrame big{FrameType::frame, 1, 2, "", std::string(max - 20, 'b')};
  std::string one = encode_frame(big);
  CHECK_TRUE(one.size() - frame_header_bytes <= max);
  std::string bytes = one + one + one;
  FrameDecoder d(max);
  std::size_t frames = 0, most = 0;
  for (std::size_t at = 0; at < bytes.size(); at += 1000) {
    d.feed(std::string_view(bytes).substr(at, 1000), [&](LinkFrame&& f) {
      CHECK_TRUE(f == big);
      ++frames;
      return true;
    });
    most = std::max(most, d.buffered());
  }
  LONGS_EQUAL(3, frames);
  CHECK_TRUE(most <= max + frame_header_bytes);
}

TEST(LinkFrame, BodyThatIsNotMsgpackFails) {
  FrameDecoder d;
  bool ok = true;
  decode_all(d, framed(std::string("\xc1\x00\x00", 3)), &ok);  // 0xc1: never used
  CHECK_FALSE(ok);
  STRCMP_CONTAINS("not msgpack", d.error().c_str());
  FrameDecoder e;
  decode_all(e, framed(""), &ok);
  CHECK_FALSE(ok);
  STRCMP_CONTAINS("empty", e.error().c_str());
  FrameDecoder t;  // an array cut short inside the declared length
  decode_all(t, framed(std::string("\x95\x01\x02", 3)), &ok);
  CHECK_FALSE(ok);
  STRCMP_CONTAINS("not msgpack", t.error().c_str());
}

TEST(LinkFrame, BodyOfAnotherShapeFailsNamingWhatIsWrong) {
  struct Case {
    std::string body;
    const char* error;
  };
  const Case cases[] = {
      {std::string("\x94\x03\x00\x00\xa0", 5), "not a msgpack array of 5"},   // 4 elements
      {std::string("\x96\x03\x00\x00\xa0\xc4\x00\xc0", 8), "an array of 6"},  // 6 elements
      {std::string("\x81\x01\x02", 3), "it is a map"},                        // a map
      {std::string("\x95\x03\x00\x00\xc4\x00\xc4\x00", 8), "element 3 (text) is a bin"},
      {std::string("\x95\x03\xff\x00\xa0\xc4\x00", 7), "element 1 (conn) is a negative integer"},
      {std::string("\x95\x03\x00\x00\xa0\xa0", 6), "element 4 (data) is a str"},
      {std::string("\x95\xa1x\x00\x00\xa0\xc4\x00", 8), "element 0 (type) is a str"},
      {std::string("\x95\x03\x00\x00\xa0\xc4\x00\x00", 8), "1 bytes after its msgpack array"},
  };
  for (const Case& c : cases) {
    FrameDecoder d;
    bool ok = true;
    auto got = decode_all(d, framed(c.body), &ok);
    CHECK_FALSE(ok);
    CHECK_TRUE(got.empty());
    STRCMP_CONTAINS(c.error, d.error().c_str());
  }
}

TEST(LinkFrame, UnknownTypeFails) {
  // 0, and one past the last type (max_frame_type, 13).
  for (const char* body : {"\x95\x00\x00\x00\xa0\xc4\x00", "\x95\x0e\x00\x00\xa0\xc4\x00"}) {
    FrameDecoder d;
    bool ok = true;
    decode_all(d, framed(std::string(body, 7)), &ok);
    CHECK_FALSE(ok);
    STRCMP_CONTAINS("unknown frame type", d.error().c_str());
  }
  FrameDecoder d;  // a type past u8, too
  decode_all(d, framed(std::string("\x95\xcd\x01\x01\x00\x00\xa0\xc4\x00", 9)));
  STRCMP_CONTAINS("unknown frame type 257", d.error().c_str());
}

TEST(LinkFrame, StaysFailedAfterAnError) {
  FrameDecoder d;
  std::string good = encode_frame(sample(FrameType::open));
  bool ok = true;
  auto got = decode_all(d, good + framed("\xc1") + good, &ok);
  CHECK_FALSE(ok);
  LONGS_EQUAL(1, got.size());  // the frame before the bad one only
  const std::string error = d.error();
  got = decode_all(d, good, &ok);
  CHECK_FALSE(ok);
  CHECK_TRUE(got.empty());
  STRCMP_EQUAL(error.c_str(), d.error().c_str());
}

TEST(LinkFrame, StoppingDropsTheRestOfTheChunk) {
  FrameDecoder d;
  std::string bytes =
      encode_frame(sample(FrameType::open, 1)) + encode_frame(sample(FrameType::open, 2));
  int seen = 0;
  CHECK_FALSE(d.feed(bytes, [&](LinkFrame&&) {
    ++seen;
    return false;
  }));
  LONGS_EQUAL(1, seen);
  CHECK_FALSE(d.failed());
  CHECK_FALSE(d.feed(bytes, [&](LinkFrame&&) { return ++seen, true; }));
  LONGS_EQUAL(1, seen);
}

// ================================================================ LinkHub

TEST_GROUP(LinkHub){};

TEST(LinkHub, HelloThenFramesBothWays) {
  Node a(quick_options("a", 11)), b(quick_options("b", 22));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b 22"));
  CHECK_TRUE(b.events.wait_for_line("up a 11"));
  CHECK_TRUE(a.hub->ready("b"));
  CHECK_TRUE(b.hub->ready("a"));
  LinkFrame to_b{FrameType::open, 5, 6, "chat/lobby", std::string("\x00\x01", 2)};
  LinkFrame to_a{FrameType::out_frame, 5, 7, "", "hi"};
  CHECK_TRUE(a.hub->send("b", to_b));
  CHECK_TRUE(b.hub->send("a", to_a));
  CHECK_TRUE(b.events.wait([&] { return b.events.frames_count == 1; }));
  CHECK_TRUE(a.events.wait([&] { return a.events.frames_count == 1; }));
  CHECK_TRUE(b.events.frames[0] == to_b);
  CHECK_TRUE(a.events.frames[0] == to_a);
  LONGS_EQUAL(1, a.counters().links_up.load());
  CHECK_TRUE(a.counters().frames_sent_total.load() >= 2);  // hello and the frame
  CHECK_TRUE(a.counters().bytes_received_total.load() > 0);
  LONGS_EQUAL(0, a.events.count("down"));
}

TEST(LinkHub, FramesFromFourThreadsKeepEachThreadsOrder) {
  Node a(quick_options("a")), b(quick_options("b"));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b"));
  constexpr int threads = 4;
  constexpr std::uint64_t per_thread = 25000;
  std::vector<std::thread> senders;
  std::atomic<std::size_t> refused{0};
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        // conn: the sending thread; num: its sequence number.
        if (!a.hub->send("b", {FrameType::frame, static_cast<std::uint64_t>(t), i, "", "payload"}))
          ++refused;
      }
    });
  }
  for (auto& s : senders) s.join();
  LONGS_EQUAL(0, refused.load());
  CHECK_TRUE(b.events.wait([&] { return b.events.frames_count == threads * per_thread; }, 30s));
  std::lock_guard lock(b.events.mutex);
  LONGS_EQUAL(0, b.events.out_of_order);
  for (int t = 0; t < threads; ++t) LONGS_EQUAL(per_thread, b.events.next_num[t]);
  LONGS_EQUAL(0, b.events.count_locked("down"));
}

TEST(LinkHub, PeerClosedGoesDownAndComesBackOnTheSamePort) {
  Node a(quick_options("a"));
  auto b = std::make_unique<Node>(quick_options("b", 1));
  const std::uint16_t port = b->listen();
  a.connect("b", port);
  CHECK_TRUE(a.events.wait_for_line("up b 1"));
  b->close();
  CHECK_TRUE(a.events.wait_for_line("down b"));
  CHECK_FALSE(a.hub->ready("b"));
  CHECK_FALSE(a.hub->send("b", sample(FrameType::frame)));
  b.reset();
  // The peer comes back, a new run of it on the same port: a reconnects.
  Node b2(quick_options("b", 2));
  b2.listen(port);
  CHECK_TRUE(a.events.wait_for_line("up b 2"));
  CHECK_TRUE(a.counters().reconnects_total.load() >= 1);
  CHECK_TRUE(a.hub->send("b", sample(FrameType::frame, 3)));
  CHECK_TRUE(b2.events.wait([&] { return b2.events.frames_count == 1; }));
}

TEST(LinkHub, PausedPeerGoesDownAsSilentThenReconnects) {
  auto opts = [](const std::string& n) {
    auto o = quick_options(n);
    o.heartbeat = 50ms;
    o.dead_after = 300ms;
    return o;
  };
  Node a(opts("a")), b(opts("b"));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b"));
  b.loop.pause();
  CHECK_TRUE(a.events.wait_for_line("down b"));
  STRCMP_CONTAINS("silent for", a.events.line("down b").c_str());
  b.loop.resume();
  // b, awake, finds its link closed; a wants b: a link comes back.
  CHECK_TRUE(b.events.wait_for_line("down a"));
  CHECK_TRUE(a.events.wait_for_line("up b", 2));
}

TEST(LinkHub, RawPeerSilentAfterHelloGoesDown) {
  auto o = quick_options("hub");
  o.heartbeat = 50ms;
  o.dead_after = 300ms;
  Node hub(o);
  const auto port = hub.listen();
  RawPeer raw(port);
  raw.hello("raw", 3);
  LinkFrame reply;
  CHECK_TRUE(raw.read_frame(reply));
  CHECK_TRUE(reply.type == FrameType::hello);
  STRCMP_EQUAL("hub", reply.text.c_str());
  CHECK_TRUE(hub.events.wait_for_line("up raw 3"));
  // The hub pings the idle link; the raw peer answers nothing.
  CHECK_TRUE(raw.read_frame(reply));
  CHECK_TRUE(reply.type == FrameType::ping);
  CHECK_TRUE(hub.events.wait_for_line("down raw silent for"));
  CHECK_TRUE(raw.closed_by_hub());
}

TEST(LinkHub, PingIsAnsweredWithPong) {
  Node hub(quick_options("hub"));
  RawPeer raw(hub.listen());
  raw.hello("raw", 1);
  LinkFrame f;
  CHECK_TRUE(raw.read_frame(f));
  raw.write(encode_frame({FrameType::ping, 0, 0, "", ""}));
  do {
    CHECK_TRUE(raw.read_frame(f));
  } while (f.type == FrameType::ping);
  CHECK_TRUE(f.type == FrameType::pong);
  LONGS_EQUAL(0, hub.events.frames_count);  // the link's own frames are not handed on
}

namespace {

// A hub with a ready link to a well-behaved peer, and a raw connection to it
// for the test to misuse; after: the raw one closed, the good link still up.
struct HostileSetup {
  HostileSetup() : hub(quick_options("hub")), good(quick_options("good")) {
    port = hub.listen();
    good.connect("hub", port);
    CHECK_TRUE(hub.events.wait_for_line("up good"));
    CHECK_TRUE(good.events.wait_for_line("up hub"));
  }
  void check_good_link_unharmed() {
    CHECK_TRUE(good.hub->send("hub", sample(FrameType::send, 9)));
    CHECK_TRUE(hub.events.wait([&] { return hub.events.frames_count == 1; }));
    CHECK_TRUE(hub.events.frames[0] == sample(FrameType::send, 9));
    CHECK_TRUE(hub.hub->ready("good"));
    LONGS_EQUAL(0, hub.events.count("down good"));
  }
  Node hub, good;
  std::uint16_t port;
};

}  // namespace

TEST(LinkHub, JunkBeforeHelloClosesOnlyThatConnection) {
  WarningsKept warnings;
  test::LogRecorder logs("cluster.link");
  HostileSetup s;
  RawPeer raw(s.port);
  raw.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(eventually([&] { return s.hub.counters().frames_malformed_total.load() == 1; }));
  s.check_good_link_unharmed();
  bool logged = false;
  for (const auto& r : logs.kept())
    logged |= r.field("why").find("malformed frame before hello") != std::string::npos;
  CHECK_TRUE(logged);
}

TEST(LinkHub, OversizeLengthClosesTheConnection) {
  HostileSetup s;
  RawPeer raw(s.port);
  raw.hello("raw", 1);
  CHECK_TRUE(s.hub.events.wait_for_line("up raw"));
  raw.write(std::string("\x7f\xff\xff\xff", 4));
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(s.hub.events.wait_for_line("down raw malformed frame: a frame body of 2147483647"));
  LONGS_EQUAL(1, s.hub.counters().frames_malformed_total.load());
  s.check_good_link_unharmed();
}

TEST(LinkHub, MalformedFrameAfterHelloDropsOnlyThatLink) {
  HostileSetup s;
  RawPeer raw(s.port);
  raw.hello("raw", 1);
  CHECK_TRUE(s.hub.events.wait_for_line("up raw"));
  raw.write(framed(std::string("\x95\x0e\x00\x00\xa0\xc4\x00", 7)));
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(s.hub.events.wait_for_line("down raw malformed frame: unknown frame type 14"));
  LONGS_EQUAL(1, s.hub.counters().frames_malformed_total.load());
  s.check_good_link_unharmed();
}

TEST(LinkHub, FrameOtherThanHelloFirstIsRefused) {
  HostileSetup s;
  RawPeer raw(s.port);
  raw.write(encode_frame(sample(FrameType::open)));
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(eventually([&] { return s.hub.counters().frames_malformed_total.load() == 1; }));
  LONGS_EQUAL(0, s.hub.events.count("up raw"));
  s.check_good_link_unharmed();
}

TEST(LinkHub, HelloFromAnotherClusterIsRefused) {
  WarningsKept warnings;
  test::LogRecorder logs("cluster.link");
  HostileSetup s;
  RawPeer raw(s.port);
  raw.hello("raw", 1, "other");
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(eventually([&] { return s.hub.counters().links_rejected_total.load() == 1; }));
  LONGS_EQUAL(0, s.hub.events.count("up raw"));
  bool logged = false;
  for (const auto& r : logs.kept())
    logged |= r.message == "peer refused" &&
              r.field("why").find("cluster 'other', this is 'test'") != std::string::npos;
  CHECK_TRUE(logged);
  s.check_good_link_unharmed();
}

TEST(LinkHub, HelloWithAnotherProtocolVersionIsRefused) {
  HostileSetup s;
  RawPeer raw(s.port);
  raw.hello("raw", 1, "test", link_protocol_version + 1);
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(eventually([&] { return s.hub.counters().links_rejected_total.load() == 1; }));
  s.check_good_link_unharmed();
}

TEST(LinkHub, UnknownNodeRefusedByAcceptPeer) {
  HostileSetup s;
  {
    std::lock_guard lock(s.hub.events.mutex);
    s.hub.events.accept = [](const std::string& n, std::uint64_t) {
      return n != "stranger";
    };
  }
  RawPeer raw(s.port);
  raw.hello("stranger", 1);
  CHECK_TRUE(raw.closed_by_hub());
  CHECK_TRUE(eventually([&] { return s.hub.counters().links_rejected_total.load() == 1; }));
  LONGS_EQUAL(0, s.hub.events.count("up stranger"));
  CHECK_FALSE(s.hub.hub->ready("stranger"));
  s.check_good_link_unharmed();
}

TEST(LinkHub, NewIncarnationReplacesTheOldLink) {
  Node hub(quick_options("hub"));
  const auto port = hub.listen();
  RawPeer old_run(port);
  old_run.hello("p", 1);
  CHECK_TRUE(hub.events.wait_for_line("up p 1"));
  RawPeer new_run(port);
  new_run.hello("p", 2);
  CHECK_TRUE(hub.events.wait_for_line("up p 2"));
  CHECK_TRUE(old_run.closed_by_hub());
  STRCMP_CONTAINS("replaced by incarnation 2", hub.events.line("down p").c_str());
  // on_down for the old link came before on_up for the new one.
  {
    std::lock_guard lock(hub.events.mutex);
    std::vector<std::string> expected = {"up p 1", "down p replaced by incarnation 2", "up p 2"};
    CHECK_TRUE(hub.events.log == expected);
  }
  // An older incarnation now is stale.
  RawPeer stale(port);
  stale.hello("p", 1);
  CHECK_TRUE(stale.closed_by_hub());
  CHECK_TRUE(eventually([&] { return hub.counters().links_rejected_total.load() == 1; }));
  CHECK_TRUE(hub.hub->ready("p"));
}

TEST(LinkHub, BothConnectingAtOnceLeavesOneLink) {
  for (int round = 0; round < 5; ++round) {
    Node a(quick_options("a")), b(quick_options("b"));
    const auto pa = a.listen(), pb = b.listen();
    // Each asks for the other from its own loop thread, as close together as we can.
    a.loop.post([&] { a.hub->connect("b", "127.0.0.1", pb); });
    b.loop.post([&] { b.hub->connect("a", "127.0.0.1", pa); });
    CHECK_TRUE(a.events.wait_for_line("up b"));
    CHECK_TRUE(b.events.wait_for_line("up a"));
    // Frames both ways over the one link, then nothing else happened.
    for (std::uint64_t i = 0; i < 100; ++i) {
      CHECK_TRUE(a.hub->send("b", {FrameType::frame, 1, i, "", ""}));
      CHECK_TRUE(b.hub->send("a", {FrameType::frame, 1, i, "", ""}));
    }
    CHECK_TRUE(a.events.wait([&] { return a.events.frames_count == 100; }));
    CHECK_TRUE(b.events.wait([&] { return b.events.frames_count == 100; }));
    LONGS_EQUAL(0, a.events.out_of_order);
    LONGS_EQUAL(0, b.events.out_of_order);
    CHECK_EQUAL(1u, a.events.count("up"));
    CHECK_EQUAL(1u, b.events.count("up"));
    CHECK_EQUAL(0u, a.events.count("down"));
    CHECK_EQUAL(0u, b.events.count("down"));
    LONGS_EQUAL(1, a.counters().links_up.load());
    LONGS_EQUAL(1, b.counters().links_up.load());
  }
}

TEST(LinkHub, PressureWhenThePeerStopsReadingAndReliefWhenItDrains) {
  auto o = quick_options("hub");
  o.high_water_bytes = 256 * 1024;
  o.low_water_bytes = 64 * 1024;
  o.dead_after = 60s;  // the raw peer never pings
  o.heartbeat = 30s;
  Node hub(o);
  RawPeer raw(hub.listen(), 16 * 1024);
  raw.hello("raw", 1);
  CHECK_TRUE(hub.events.wait_for_line("up raw"));
  // 8 MiB at once: more than the kernel's socket buffers take (tcp_wmem's
  // default cap is 4 MiB), so the queue cannot fall to low water unread.
  const LinkFrame chunk{FrameType::out_frame, 1, 0, "", std::string(16 * 1024, 'z')};
  for (int i = 0; i < 512; ++i) CHECK_TRUE(hub.hub->send("raw", chunk));
  auto pressure = [&] {  // the on_pressure calls so far, "1" or "0" each
    std::lock_guard lock(hub.events.mutex);
    std::string seen;
    for (const auto& l : hub.events.log)
      if (l.rfind("pressure raw ", 0) == 0) seen += l.back();
    return seen;
  };
  // Once the socket takes nothing more: congested, and it stays so.
  CHECK_TRUE(eventually([&] {
    const std::string p = pressure();
    return !p.empty() && p.back() == '1' && hub.hub->queued_bytes("raw") >= o.high_water_bytes;
  }));
  // The peer reads again: the queue drains, pressure is off.
  CHECK_TRUE(eventually([&] {
    raw.drain_available();
    const std::string p = pressure();
    return p.back() == '0';
  }));
  // The calls alternate, starting with true.
  const std::string p = pressure();
  for (std::size_t i = 0; i < p.size(); ++i) CHECK_EQUAL(i % 2 == 0 ? '1' : '0', p[i]);
  CHECK_TRUE(hub.hub->queued_bytes("raw") <= o.low_water_bytes);
  CHECK_TRUE(hub.hub->ready("raw"));
}

TEST(LinkHub, SendWithoutAReadyLinkReturnsFalse) {
  auto o = quick_options("a");
  Node a(o), b(quick_options("b"));
  CHECK_FALSE(a.hub->send("nobody", sample(FrameType::frame)));
  LONGS_EQUAL(0, a.hub->queued_bytes("nobody"));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b"));
  CHECK_TRUE(a.hub->send("b", sample(FrameType::frame)));
  b.close();
  CHECK_TRUE(a.events.wait_for_line("down b"));
  CHECK_FALSE(a.hub->send("b", sample(FrameType::frame)));
  CHECK_FALSE(a.hub->ready("b"));
}

TEST(LinkHub, ForgetClosesTheLinkAndStopsReconnecting) {
  Node a(quick_options("a")), b(quick_options("b"));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b"));
  a.forget("b");
  CHECK_TRUE(a.events.wait_for_line("down b forgotten"));
  CHECK_TRUE(b.events.wait_for_line("down a"));
  // Nothing reconnects: b does not want a, and a no longer wants b. Checked
  // after b saw a's link go, and after a's tick ran a few more times.
  const auto attempts = a.counters().reconnects_total.load();
  std::atomic<int> ticks{0};
  for (int i = 0; i < 3; ++i) a.loop.run([&] { ++ticks; });
  CHECK_FALSE(a.hub->ready("b"));
  LONGS_EQUAL(attempts, a.counters().reconnects_total.load());
  LONGS_EQUAL(1, a.events.count("up b"));
}

TEST(LinkHub, HelloFromTheWrongNodeAtAnAddressIsRefused) {
  Node a(quick_options("a")), b(quick_options("b"));
  const auto pb = b.listen();
  a.connect("c", pb);  // b answers at c's address
  CHECK_TRUE(eventually([&] { return a.counters().links_rejected_total.load() >= 1; }));
  CHECK_FALSE(a.hub->ready("c"));
  LONGS_EQUAL(0, a.events.count("up"));
  a.forget("c");
}

TEST(LinkHub, OptionsAreChecked) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto make = [&](LinkHubOptions o) {
    LinkHub hub(&loop, o, {});
  };
  LinkHubOptions empty_id;
  CHECK_THROWS(std::invalid_argument, make(empty_id));
  auto bad_water = quick_options("x");
  bad_water.low_water_bytes = bad_water.high_water_bytes + 1;
  CHECK_THROWS(std::invalid_argument, make(bad_water));
  uv_loop_close(&loop);
}

TEST(LinkHub, ThreeNodesEachFrameReachesItsNodeAndOneLossLeavesTheRest) {
  Node a(quick_options("a")), b(quick_options("b")), c(quick_options("c"));
  b.listen();
  c.listen();
  a.connect(b);
  a.connect(c);
  b.connect(c);
  CHECK_TRUE(a.events.wait_for_line("up", 2));
  CHECK_TRUE(c.events.wait_for_line("up", 2));
  CHECK_TRUE(b.events.wait_for_line("up", 2));
  CHECK_TRUE(a.hub->send("b", {FrameType::send, 1, 0, "to b", ""}));
  CHECK_TRUE(a.hub->send("c", {FrameType::send, 1, 0, "to c", ""}));
  CHECK_TRUE(b.events.wait([&] { return b.events.frames_count == 1; }));
  CHECK_TRUE(c.events.wait([&] { return c.events.frames_count == 1; }));
  STRCMP_EQUAL("to b", b.events.frames[0].text.c_str());
  STRCMP_EQUAL("to c", c.events.frames[0].text.c_str());
  LONGS_EQUAL(2, a.counters().links_up.load());
  c.close();
  CHECK_TRUE(a.events.wait_for_line("down c"));
  CHECK_TRUE(b.events.wait_for_line("down c"));
  CHECK_TRUE(a.hub->send("b", {FrameType::send, 1, 1, "still", ""}));
  CHECK_TRUE(b.events.wait([&] { return b.events.frames_count == 2; }));
  LONGS_EQUAL(0, a.events.count("down b"));
  LONGS_EQUAL(1, a.counters().links_up.load());
}

TEST(LinkHub, CloseReportsEveryReadyLinkDownAndRefusesLaterSends) {
  Node a(quick_options("a")), b(quick_options("b"));
  b.listen();
  a.connect(b);
  CHECK_TRUE(a.events.wait_for_line("up b"));
  std::promise<void> closed;
  a.loop.run([&] { a.hub->close([&] { closed.set_value(); }); });
  CHECK_TRUE(closed.get_future().wait_for(10s) == std::future_status::ready);
  CHECK_TRUE(a.events.wait_for_line("down b hub closing"));
  CHECK_FALSE(a.hub->send("b", sample(FrameType::frame)));
  CHECK_FALSE(a.hub->ready("b"));
  LONGS_EQUAL(0, a.counters().links_up.load());
  CHECK_TRUE(b.events.wait_for_line("down a"));
  a.loop.run([&] { a.hub.reset(); });
}

TEST(LinkHub, ConnectsToAHostName) {
  Node a(quick_options("a")), b(quick_options("b"));
  const auto port = b.listen();
  a.connect("b", "localhost", port);  // resolved by uv_getaddrinfo, IPv4 first
  CHECK_TRUE(a.events.wait_for_line("up b"));
  CHECK_TRUE(b.events.wait_for_line("up a"));
}

TEST(LinkHub, UnresolvableHostIsLoggedRetriedAndClosesCleanly) {
  WarningsKept warnings;
  test::LogRecorder logs("cluster.link");
  Node a(quick_options("a"));
  a.connect("b", "no-such-host.invalid", 7000);
  CHECK_TRUE(eventually([&] {
    for (const auto& r : logs.kept())
      if (r.message == "cannot resolve a peer's host" && r.field("host") == "no-such-host.invalid")
        return true;
    return false;
  }));
  CHECK_FALSE(a.hub->ready("b"));
  LONGS_EQUAL(0, a.events.count("up"));
  a.close();  // with a resolution perhaps running: close() waits for it
}
