// The node link's benchmark (cluster/link/link_hub.hpp): two LinkHubs over
// loopback, each on its own uv loop thread.
//
//   cluster_link [--frames=N] [--rtts=N] [--bytes=N] [--quick]
//
// Prints, one line each:
//   peer=troupe bench=cluster_link frames=N bytes=100 frames_per_s=… mb_per_s=…
//   peer=troupe bench=cluster_link_rtt rtts=N p50_us=… p99_us=…
// One-way: one thread sends N frames of `bytes` data bytes from a to b as
// fast as the link takes them (it waits while on_pressure says congested);
// the clock runs from the first send to b's hook seeing the last frame;
// mb_per_s counts the data bytes. Round trips: a thread sends one frame, b's
// on_frame hook sends it back, a's hook wakes the thread (a condition
// variable, as a blocked scheduler thread would be); the time of each,
// after 1000 warm-up ones.
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.hpp"
#include "cluster/link/link_hub.hpp"
#include "runtime/log.hpp"

using namespace troupe;
using namespace troupe::cluster;
using troupe::bench::Clock;

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "cluster_link: %s\n", why.c_str());
  std::exit(1);
}

// A uv loop on its own thread; run() executes a function there and waits.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, [](uv_async_t* a) {
      auto* self = static_cast<LoopThread*>(a->data);
      std::deque<std::function<void()>> tasks;
      {
        std::lock_guard lock(self->mutex_);
        tasks.swap(self->tasks_);
      }
      for (auto& t : tasks) t();
    });
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~LoopThread() {
    run([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    thread_.join();
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() { return &loop_; }
  void run(const std::function<void()>& fn) {
    std::promise<void> done;
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back([&] {
        fn();
        done.set_value();
      });
    }
    uv_async_send(&async_);
    done.get_future().wait();
  }

 private:
  uv_loop_t loop_;
  uv_async_t async_;
  std::thread thread_;
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
};

struct Signal {
  std::mutex mutex;
  std::condition_variable cv;
  void notify() {
    std::lock_guard lock(mutex);
    cv.notify_all();
  }
  void wait_until(const std::function<bool()>& pred) {
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, std::chrono::seconds(60), pred)) die("timed out");
  }
};

struct Pair {
  LoopThread loop_a, loop_b;
  std::unique_ptr<LinkHub> a, b;
  Signal signal;
  std::atomic<bool> up_a{false}, up_b{false}, congested{false};
  std::atomic<std::uint64_t> received_b{0}, received_a{0};
  std::atomic<bool> echo{false};
  std::atomic<std::uint64_t> target{0};  // b's hook wakes the driver at this count

  Pair() {
    LinkHubHooks ha, hb;
    ha.on_up = [this](auto&, auto) {
      up_a = true, signal.notify();
    };
    ha.on_pressure = [this](auto&, bool c) {
      congested = c, signal.notify();
    };
    ha.on_frame = [this](auto&, LinkFrame&&) {
      ++received_a, signal.notify();
    };
    hb.on_up = [this](auto&, auto) {
      up_b = true, signal.notify();
    };
    hb.on_frame = [this](const std::string& node, LinkFrame&& f) {
      if (echo) {
        b->send(node, std::move(f));
      } else if (++received_b == target) {
        signal.notify();
      }
    };
    LinkHubOptions oa, ob;
    oa.node_id = "a";
    ob.node_id = "b";
    loop_a.run([&] { a = std::make_unique<LinkHub>(loop_a.get(), oa, ha); });
    loop_b.run([&] { b = std::make_unique<LinkHub>(loop_b.get(), ob, hb); });
    std::error_code ec;
    loop_b.run([&] { ec = b->listen("127.0.0.1", 0); });
    if (ec) die("listen: " + ec.message());
    loop_a.run([&] { a->connect("b", "127.0.0.1", b->port()); });
    signal.wait_until([&] { return up_a && up_b; });
  }
  ~Pair() {
    for (auto* side : {&a, &b}) {
      LoopThread& loop = side == &a ? loop_a : loop_b;
      std::promise<void> closed;
      loop.run([&] { (*side)->close([&] { closed.set_value(); }); });
      closed.get_future().wait();
      loop.run([&] { side->reset(); });
    }
  }
};

void one_way(long frames, std::size_t bytes) {
  Pair p;
  const LinkFrame frame{FrameType::frame, 1, 0, "", std::string(bytes, 'x')};
  p.target = static_cast<std::uint64_t>(frames);
  const auto start = Clock::now();
  for (long i = 0; i < frames; ++i) {
    if (p.congested.load(std::memory_order_relaxed))
      p.signal.wait_until([&] { return !p.congested.load(); });
    if (!p.a->send("b", frame)) die("send refused");
  }
  p.signal.wait_until([&] { return p.received_b.load() >= static_cast<std::uint64_t>(frames); });
  const double s = bench::seconds(start, Clock::now());
  std::printf(
      "peer=troupe bench=cluster_link frames=%ld bytes=%zu frames_per_s=%.0f mb_per_s=%.1f\n",
      frames, bytes, frames / s, frames * static_cast<double>(bytes) / s / 1e6);
}

void round_trips(long n, std::size_t bytes) {
  Pair p;
  p.echo = true;
  const LinkFrame frame{FrameType::frame, 1, 0, "", std::string(bytes, 'x')};
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  const long warmup = 1000;
  for (long i = 0; i < warmup + n; ++i) {
    const std::uint64_t want = p.received_a.load() + 1;
    const auto t0 = Clock::now();
    if (!p.a->send("b", frame)) die("send refused");
    p.signal.wait_until([&] { return p.received_a.load() >= want; });
    if (i >= warmup) us.push_back(bench::seconds(t0, Clock::now()) * 1e6);
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<std::size_t>(q * (us.size() - 1))];
  };
  std::printf("peer=troupe bench=cluster_link_rtt rtts=%ld bytes=%zu p50_us=%.1f p99_us=%.1f\n", n,
              bytes, at(0.5), at(0.99));
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  set_log_level(LogLevel::warning);
  const bool quick = args.num("quick", 0) != 0;
  const long frames = args.num("frames", quick ? 200000 : 2000000);
  const long rtts = args.num("rtts", quick ? 2000 : 20000);
  const auto bytes = static_cast<std::size_t>(args.num("bytes", 100));
  one_way(frames, bytes);
  round_trips(rtts, bytes);
  return 0;
}
