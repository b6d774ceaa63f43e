#pragma once
// Helpers for the suites that run processes (runtime, server, supervisors).

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "troupe.hpp"

namespace troupe::test {

using namespace std::chrono_literals;

// A bound on every run, so a broken runtime fails a test instead of hanging it.
inline constexpr auto run_limit = std::chrono::seconds(20);

// A thread-safe list of events that processes append to and tests read.
class EventLog {
 public:
  void add(std::string e) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(e));
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  std::string joined() const {
    std::string out;
    for (auto& e : events()) out += (out.empty() ? "" : ",") + e;
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

// A supervisor's children, asked from a process, for a test's thread (not
// a scheduler's). A supervisor answers once its children have started, so
// this also waits for a tree that rt.start() began. Empty if it is gone.
inline std::vector<ChildInfo> children_of(Runtime& rt, Pid supervisor) {
  return rt.run_on_async<std::vector<ChildInfo>>(
      0, [&rt, supervisor](std::function<void(std::vector<ChildInfo>)> done) {
        rt.spawn([supervisor, done](Process& self) -> Proc {
          auto found = co_await which_children(self, supervisor);
          done(found ? found.value() : std::vector<ChildInfo>{});
        });
      });
}

struct Ping {
  Pid from;
  int n = 0;
};
struct Pong {
  int n = 0;
};
struct Go {};
struct Stop {};

}  // namespace troupe::test
