#include "runtime/detail/watchdog.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "runtime/detail/scheduler.hpp"
#include "runtime/log.hpp"
#include "runtime/runtime.hpp"

namespace troupe::detail {

namespace {

struct CpuLimitNote {};  // no payload: the kind says it all

std::int64_t to_ns(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// The fields of a watchdog log line: the process's pid, its registered name
// and, for a gateway session ("rooms/lobby"), its route; the scheduler, the
// time so far, and the limit passed. LogField holds views: this owns them.
struct HoldReport {
  std::string pid, scheduler, held_ms, name, route, limit_key, limit_ms;

  HoldReport(Runtime& rt, std::uint64_t raw, unsigned index, std::int64_t held_ns)
      : pid(Pid::from_raw(raw).to_string()),
        scheduler(std::to_string(index)),
        held_ms(std::to_string(held_ns / 1'000'000)) {
    auto names = rt.names_of(Pid::from_raw(raw));
    if (names.empty()) return;
    name = names.front();
    if (auto slash = name.find('/'); slash != std::string::npos)
      route = "/" + name.substr(0, slash);
  }

  void log_as(LogLevel level, std::string_view message) const {
    std::vector<LogField> fields{{"pid", pid}, {"scheduler", scheduler}, {"held_ms", held_ms}};
    if (!name.empty()) fields.push_back({"name", name});
    if (!route.empty()) fields.push_back({"route", route});
    if (!limit_key.empty()) fields.push_back({limit_key, limit_ms});
    log(level, "watchdog", message, fields);
  }
};

}  // namespace

Watchdog::Watchdog(Runtime& rt) : rt_(rt), options_(rt.options_.watchdog) {
  Scheduler::install_hand_off_signal();
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // No scheduler stays held once no one watches.
  const unsigned total = rt_.total_schedulers();
  for (unsigned i = 0; i < total; ++i)
    if (Scheduler* s = rt_.scheduler_at(i)) s->set_held(false);
}

RuntimeStats Watchdog::stats() const {
  return {overruns_.load(std::memory_order_relaxed),
          cpu_limit_hits_.load(std::memory_order_relaxed),
          migrations_.load(std::memory_order_relaxed), longest_ms_.load(std::memory_order_relaxed)};
}

void Watchdog::run() {
  const auto tick_every = std::max(options_.tick, std::chrono::milliseconds(1));
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, tick_every, [this] { return stopping_; })) {
    lock.unlock();
    tick(now_ns());
    lock.lock();
  }
}

void Watchdog::tick(std::int64_t now) {
  const unsigned total = rt_.total_schedulers();
  for (unsigned i = 0; i < total && i < seen_.size(); ++i)
    if (Scheduler* s = rt_.scheduler_at(i)) watch(*s, seen_[i], now);
}

void Watchdog::watch(Scheduler& s, Seen& seen, std::int64_t now) {
  const std::uint64_t runs = s.runs();
  const std::uint64_t pid = s.running();
  if (pid == 0 || runs != seen.runs || pid != seen.pid) {
    // A new run (or none): the previous one, if it was long, has ended.
    release(s, seen, now);
    seen = Seen{runs, pid, now};
    return;
  }
  // The same run as at the last tick: it has lasted at least this long.
  const std::int64_t held = now - seen.since_ns;
  const auto held_ms = static_cast<std::uint64_t>(held / 1'000'000);
  std::uint64_t longest = longest_ms_.load(std::memory_order_relaxed);
  while (held_ms > longest &&
         !longest_ms_.compare_exchange_weak(longest, held_ms, std::memory_order_relaxed)) {
  }
  if (!seen.yielded && held >= to_ns(options_.yield_after)) {
    s.ask_yield(runs);
    seen.yielded = true;
  }
  if (options_.migrate_after.count() > 0 && held >= to_ns(options_.migrate_after) &&
      s.group().count > 1) {
    const bool first = !seen.held;
    if (first) {
      s.set_held(true);
      seen.held = true;
    }
    migrations_.fetch_add(s.hand_off(first), std::memory_order_relaxed);
  }
  if (!seen.reported && held >= to_ns(options_.budget)) {
    seen.reported = true;
    overruns_.fetch_add(1, std::memory_order_relaxed);
    HoldReport report(rt_, pid, s.index(), held);
    report.limit_key = "budget_ms";
    report.limit_ms = std::to_string(options_.budget.count());
    report.log_as(LogLevel::warning, "a process holds its scheduler past the budget");
  }
  if (options_.hard_limit.count() > 0 && !seen.condemned && held >= to_ns(options_.hard_limit)) {
    seen.condemned = true;
    s.condemn(runs);  // fails it when the run returns to the scheduler ...
    // ... or at a receive that would not suspend (a message waiting).
    auto* note = make_message<CpuLimitNote>(MsgKind::cpu_limit);
    rt_.deliver(Pid::from_raw(pid), note);
    cpu_limit_hits_.fetch_add(1, std::memory_order_relaxed);
    HoldReport report(rt_, pid, s.index(), held);
    report.limit_key = "hard_limit_ms";
    report.limit_ms = std::to_string(options_.hard_limit.count());
    report.log_as(LogLevel::error,
                  "a process passed the hard limit: it fails at its next suspension point");
  }
}

void Watchdog::release(Scheduler& s, Seen& seen, std::int64_t now) {
  if (seen.held) s.set_held(false);
  if (seen.reported)
    HoldReport(rt_, seen.pid, s.index(), now - seen.since_ns)
        .log_as(LogLevel::info, "a process released its scheduler");
}

}  // namespace troupe::detail
