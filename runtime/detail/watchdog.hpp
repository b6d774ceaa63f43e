#pragma once
// The watchdog's thread (runtime/watchdog.hpp): every tick it samples each
// scheduler's run counter and the process in hand; a run seen for longer
// than a limit gets that limit's treatment. Internal.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "runtime/watchdog.hpp"

namespace troupe {
class Runtime;
}

namespace troupe::detail {

class Scheduler;

class Watchdog {
 public:
  explicit Watchdog(Runtime& rt);  // starts the thread
  ~Watchdog();                     // stops it; before the schedulers go
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  RuntimeStats stats() const;

 private:
  // What the watchdog knows of one scheduler's current run.
  struct Seen {
    std::uint64_t runs = 0;
    std::uint64_t pid = 0;  // raw; 0: none in hand
    std::int64_t since_ns = 0;
    bool yielded = false;
    bool held = false;
    bool reported = false;
    bool condemned = false;
  };

  void run();
  void tick(std::int64_t now);
  void watch(Scheduler& s, Seen& seen, std::int64_t now);
  void release(Scheduler& s, Seen& seen, std::int64_t now);

  Runtime& rt_;
  const WatchdogOptions options_;
  std::array<Seen, 256> seen_{};
  std::atomic<std::uint64_t> overruns_{0};
  std::atomic<std::uint64_t> cpu_limit_hits_{0};
  std::atomic<std::uint64_t> migrations_{0};
  std::atomic<std::uint64_t> longest_ms_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace troupe::detail
