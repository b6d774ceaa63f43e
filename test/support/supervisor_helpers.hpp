#pragma once
// Shared pieces of the supervisor suites: a worker that reports its starts
// and stops to an observer process, and a log hook that records events.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"
#include "test/support/runtime_helpers.hpp"

namespace troupe::test {

struct Started {
  std::string id;
  Pid pid;
};
struct Stopped {
  std::string id;
  ExitReason reason;
};
struct Crash {
  ExitReason reason = ExitReason::error("crash");
};
struct WhoAmI {
  using reply = std::string;
};

// Reports Started from init and Stopped from terminate; traps exits so that
// a supervisor's shutdown runs terminate. Crash{reason} makes it exit.
// `fail_starts`, if set, is decremented by each start; while it was > 0 the
// init throws.
struct Worker : Server<Worker> {
  using calls = types<WhoAmI>;
  using casts = types<Crash>;

  Worker(std::string id, Pid observer, std::shared_ptr<std::atomic<int>> fail_starts = nullptr)
      : id(std::move(id)), observer(observer), fail_starts(std::move(fail_starts)) {}

  void init() {
    if (fail_starts && fail_starts->fetch_sub(1) > 0) throw std::runtime_error("init failed");
    process().trap_exit(true);
    process().send(observer, Started{id, pid()});
  }
  std::string handle_call(const WhoAmI&) { return id; }
  void handle_cast(const Crash& c) { process().exit(c.reason); }
  void terminate(const ExitReason& r) { process().send(observer, Stopped{id, r}); }

  std::string id;
  Pid observer;
  std::shared_ptr<std::atomic<int>> fail_starts;
};

inline ChildSpec worker_spec(const std::string& id, Pid observer, Restart restart = permanent) {
  return ChildSpec{.id = id,
                   .start = server_child<Worker>(id, observer),
                   .restart = restart,
                   .shutdown = 1s,
                   .name = id};
}

// Records every supervisor event while a test runs (silences stderr).
class EventRecorder {
 public:
  EventRecorder() {
    set_supervisor_log([this](const SupervisorEvent& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(e);
    });
  }
  ~EventRecorder() { set_supervisor_log(&log_supervisor_event); }
  std::vector<SupervisorEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  std::size_t count(SupervisorEvent::Kind kind) const {
    std::size_t n = 0;
    for (auto& e : events())
      if (e.kind == kind) ++n;
    return n;
  }
  // "kind:child" for each event, comma separated, optionally only of some kinds.
  std::string summary(std::vector<SupervisorEvent::Kind> only = {}) const {
    std::string out;
    for (auto& e : events()) {
      if (!only.empty() && std::find(only.begin(), only.end(), e.kind) == only.end()) continue;
      out += (out.empty() ? "" : ",") + std::string(to_string(e.kind)) + ":" + e.child_id;
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<SupervisorEvent> events_;
};

// Awaits the next Started / Stopped report.
TROUPE_HEADER_COROUTINE inline Task<Started> next_started(Process& self) {
  co_return co_await self.receive<Started>();
}
TROUPE_HEADER_COROUTINE inline Task<Stopped> next_stopped(Process& self) {
  co_return co_await self.receive<Stopped>();
}

// Starts `spec` and consumes the Started reports of its `n` workers.
TROUPE_HEADER_COROUTINE inline Task<Pid> start_and_wait(Process& self, SupervisorSpec spec,
                                                        std::size_t n) {
  auto sup = co_await start_supervisor(self, std::move(spec));
  for (std::size_t i = 0; i < n; ++i) co_await next_started(self);
  co_return sup.value();
}

}  // namespace troupe::test
