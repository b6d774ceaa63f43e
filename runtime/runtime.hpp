#pragma once
// The runtime: schedulers (one libuv loop each) and the processes on them.
//
//   troupe::Runtime rt({.schedulers = 2});
//   troupe::Pid echo = rt.spawn([](troupe::Process& self) -> troupe::Proc { ... });
//   rt.run();  // returns when every process has ended, or after stop()
//
// Or embedded on an application's own loop: Runtime rt({.loop = &app_loop})
// runs one scheduler on that loop, driven by the application's uv_run; call
// its members from that loop's thread, except those marked "any thread".

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/detail/process_table.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"
#include "runtime/pid.hpp"
#include "runtime/process.hpp"
#include "runtime/registry.hpp"
#include "runtime/spawn_options.hpp"
#include "runtime/watchdog.hpp"

namespace troupe {

struct TROUPE_EXPORT RuntimeOptions {
  unsigned schedulers = 0;     // 0: one per core
  uv_loop_t* loop = nullptr;   // embed on this loop (one scheduler, no threads)
  int reductions = 1000;       // receives a process may complete before it yields
  bool handle_signals = true;  // start(): SIGINT/SIGTERM shut the root down
  WatchdogOptions watchdog;    // a process that holds its scheduler (watchdog.hpp)
};

namespace detail {
class Scheduler;
class Watchdog;
struct SimAccess;
}  // namespace detail

class TROUPE_EXPORT Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  // Shuts down if that has not happened yet.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts a process. Any thread. From outside a process, schedulers are
  // chosen round robin unless options.scheduler says otherwise.
  template <class F>
  Pid spawn(F&& body, SpawnOptions options = {}) {
    return spawn_body(nullptr, detail::make_body(std::forward<F>(body)), options);
  }

  // Queues a message for `to`. Any thread.
  template <class T>
  SendResult send(Pid to, T&& msg) {
    return deliver(
        to, detail::make_message<std::decay_t<T>>(detail::MsgKind::user, std::forward<T>(msg)));
  }

  // Answers a call (see Process::reply). Any thread.
  template <class V>
  SendResult reply(const ReplyTo& to, V&& value) {
    return deliver(to.from, detail::make_reply(to.ref, std::forward<V>(value)));
  }

  // Sends an exit signal to `to` (kill is untrappable). Any thread.
  void exit(Pid to, ExitReason reason);

  // Starts the application's root, e.g. a supervisor from a SupervisorSpec
  // (supervisors/ provides start_root for it). run() then returns when the
  // root exits. With options.handle_signals, the first SIGINT or SIGTERM
  // sends the root an exit signal `shutdown` (a supervisor stops its
  // children in reverse order, each within its shutdown timeout); a second
  // one ends the program at once (exit status 128 + signal).
  template <class Spec>
  Pid start(const Spec& spec) {
    Pid root = start_root(*this, spec);  // found by argument-dependent lookup
    set_root(root);
    return root;
  }
  // Makes `pid` the root: run() returns when it exits. Any thread.
  void set_root(Pid pid);
  Pid root() const { return Pid::from_raw(root_.load(std::memory_order_acquire)); }

  // Blocks until the root (if any) has exited, or else until no process is
  // alive, or until stop() is called. In embedded mode it runs the
  // application's loop meanwhile.
  void run();
  // run() for at most `max`; true if every process ended by then.
  bool run_for(Duration max);
  // Makes run() return. Any thread.
  void stop();
  // Ends every process with reason shutdown, stops the schedulers, joins
  // their threads and frees everything. Idempotent. Not from a process.
  void shutdown();

  // Is this incarnation alive? Any thread; a snapshot.
  bool alive(Pid pid) const;
  std::size_t process_count() const { return live_.load(std::memory_order_acquire); }
  // The runtime's own schedulers (RuntimeOptions::schedulers): indices
  // 0 .. scheduler_count() - 1, the group spawns use unless told otherwise.
  // Zero after shutdown.
  unsigned scheduler_count() const { return own_count_.load(std::memory_order_relaxed); }
  SchedulerGroup own_schedulers() const { return {0, scheduler_count()}; }
  // Is there a scheduler `index` (the runtime's own or added), not shut down?
  bool has_scheduler(unsigned index) const { return index < total_schedulers(); }
  // Adds `count` schedulers (threads with a loop each) as a group of their
  // own, outside the runtime's: nothing is placed there unless spawned with
  // SpawnOptions::group or ::scheduler. For work that must not share a
  // thread with the rest (gateway sockets, CPU-heavy sessions). They live
  // until shutdown. Any thread. Embedded (RuntimeOptions::loop), or past
  // the limit of 256 schedulers in all, it adds none and returns an empty
  // group, which places on the runtime's own.
  SchedulerGroup add_schedulers(unsigned count);
  // The watchdog's counters (watchdog.hpp). Any thread.
  RuntimeStats stats() const;
  // The names `pid` is registered under (empty if none or not alive). Any thread.
  std::vector<std::string> names_of(Pid pid) const;
  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }

  // Sends to the process registered as `name`; noproc if there is none.
  template <class T>
  SendResult send(std::string_view name, T&& msg) {
    return send(registry_.whereis(name), std::forward<T>(msg));
  }

  // Sends a copy of `msg` to every process that joined `topic` (pub/sub);
  // returns how many it was sent to. Any thread.
  template <class T>
  std::size_t dispatch(std::string_view topic, const T& msg) {
    std::size_t sent = 0;
    for (Pid member : registry_.members(topic)) sent += send(member, T(msg)) == SendResult::ok;
    return sent;
  }

  // The loop of a scheduler, for integrating I/O (gateway, stores) with it.
  uv_loop_t* loop(unsigned scheduler) const;
  // Runs `fn` on that scheduler's thread. Any thread.
  void post(unsigned scheduler, std::function<void()> fn);

  // Runs fn() on `scheduler`'s thread and blocks the calling thread until it
  // has returned: its result, or its exception rethrown. For main() and
  // tests, e.g. to make a store on the loop it is bound to. Never from a
  // thread of this runtime's schedulers (a process, a loop callback): that
  // would block the scheduler or wait for itself, so it throws
  // std::logic_error instead. Embedded (RuntimeOptions::loop): from the
  // loop's thread outside its callbacks; fn runs at once.
  template <class F>
  auto run_on(unsigned scheduler, F fn) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    std::packaged_task<R()> task(std::move(fn));
    auto result = task.get_future();
    wait_on(scheduler, [&task](const std::function<void()>& finished) {
      task();
      finished();
    });
    return result.get();
  }
  // run_on for work that ends in a callback (FileStore::open, Store::close):
  // runs start(done) on `scheduler`'s thread and blocks until done(value)
  // has been called there, once; returns the value. An exception thrown by
  // start is rethrown. Same rules as run_on; embedded, the loop runs until
  // done is called.
  template <class T>
  T run_on_async(unsigned scheduler, std::function<void(std::function<void(T)> done)> start) {
    std::optional<T> value;
    wait_on(scheduler, [&value, &start](const std::function<void()>& finished) {
      start([&value, finished](T v) {
        value.emplace(std::move(v));
        finished();
      });
    });
    return std::move(*value);
  }

 private:
  friend class Process;
  friend class detail::Scheduler;
  friend class Registry;
  friend class detail::Watchdog;
  friend struct detail::SimAccess;  // troupe::testing

  // Queues `node` for `to`, or frees it; with keep_on_full, a node a full
  // mailbox rejects stays the caller's.
  SendResult deliver(Pid to, detail::MessageNode* node, bool keep_on_full = false);
  Pid spawn_body(Process* parent, detail::Body body, SpawnOptions options);
  detail::Scheduler& place(Process* parent, const SpawnOptions& options);
  Process* lookup(Pid pid) const;
  void wake(Process* p, std::uint32_t gen);
  void process_exited(Pid pid);
  bool run_done() const;
  void on_signal(int signum);
  // The core of run_on: start(finished) on the scheduler's thread, then
  // blocks until finished() was called (or start threw: rethrown).
  void wait_on(unsigned scheduler, std::function<void(const std::function<void()>&)> start);
  // Records a registry key on a live process, so its exit releases it.
  bool attach_key(Pid pid, const std::string& key, bool topic);
  void detach_key(Pid pid, std::string_view key, bool topic);

  void configure(detail::Scheduler& s, SchedulerGroup group);
  detail::Scheduler* scheduler_at(unsigned index) const {
    return schedulers_[index % max_schedulers].get();
  }
  unsigned total_schedulers() const { return total_.load(std::memory_order_acquire); }

  static constexpr unsigned max_schedulers = 256;  // ids keep the index in 8 bits
  RuntimeOptions options_;
  detail::ProcessTable table_;
  Registry registry_{*this};
  // Filled in order and published by total_; never shrinks before shutdown.
  std::unique_ptr<detail::Scheduler> schedulers_[max_schedulers];
  std::atomic<unsigned> total_{0};
  std::atomic<unsigned> own_count_{0};
  std::mutex add_mutex_;
  std::unique_ptr<detail::Watchdog> watchdog_;
  std::atomic<unsigned> round_robin_{0};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> root_{0};
  std::atomic<int> signals_seen_{0};
  std::mutex run_mutex_;
  std::condition_variable run_cv_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> shutting_down_{false};
  bool shut_down_ = false;
};

}  // namespace troupe
