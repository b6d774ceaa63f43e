#pragma once
// One scheduler: a libuv loop (its own thread, or the application's loop)
// that runs the processes placed on it. Internal.

#include <pthread.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/detail/message.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/pid.hpp"
#include "runtime/spawn_options.hpp"

namespace troupe {
class Runtime;
class Process;
}  // namespace troupe

namespace troupe::detail {

class Scheduler {
 public:
  // `foreign_loop` = nullptr: the scheduler owns a loop and a thread.
  Scheduler(Runtime& rt, unsigned index, uv_loop_t* foreign_loop);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start_thread();
  // Shutdown, in two phases across all schedulers: first every process
  // here ends with reason shutdown, then the loop's handles close and the
  // thread is joined (embedded: the application's loop runs until they are).
  void shutdown_processes();
  void stop();

  unsigned index() const { return index_; }
  void set_group(SchedulerGroup group) { group_ = group; }
  SchedulerGroup group() const { return group_; }
  uv_loop_t* loop() const { return loop_; }
  Runtime& runtime() const { return rt_; }
  // The scheduler whose loop is running on this thread, if any.
  static Scheduler* current();

  // Makes a SCHEDULED process run soon. Any thread.
  void enqueue(Process* p);
  // Owner thread: an event of p's fired; run it if it is waiting.
  void wake_local(Process* p);
  // Embedded: while the runtime's own run() drives the application's loop,
  // the loop must stay alive for our handles even if the application has
  // none of its own. Loop thread.
  void hold_loop(bool on) {
    auto* h = reinterpret_cast<uv_handle_t*>(&async_);
    on ? uv_ref(h) : uv_unref(h);
  }
  // SIGINT/SIGTERM go to Runtime::on_signal. Any thread.
  void watch_signals();
  // Runs `fn` on this scheduler's thread. Any thread.
  void post(std::function<void()> fn);
  // Runs start(finished) on this scheduler's thread and blocks until
  // finished() has been called (Runtime::run_on). An exception thrown by
  // start is rethrown here. Throws std::logic_error on this scheduler's own
  // thread. Embedded: start runs at once, then the loop until finished.
  void run_and_wait(std::function<void(const std::function<void()>&)> start);

  // Owner thread. A fresh control block, reusing slots freed here first.
  Process* claim_slot();

  // Owner thread. `msg` nullptr: a receive timeout for `target`.
  std::uint64_t add_timer(std::int64_t delay_ns, Pid target, MessageNode* msg);
  bool cancel_timer(std::uint64_t id);
  std::uint64_t next_id() { return (++id_counter_ << 8) | index_; }

  // troupe::testing's simulation, on the thread that drives the loop: the
  // processes ready to run (after taking posted work and wake-ups from
  // other threads), running the `choice`-th of them (false if there is
  // none), the earliest timer's deadline (now_ns's clock), and firing the
  // timers due by `now` (any thread: timers are locked).
  std::size_t runnable();
  bool run_one(std::size_t choice);
  std::optional<std::int64_t> next_deadline();
  void fire_due(std::int64_t now);

  // libuv thread-pool callbacks of Process::offload.
  static void on_offload_run(uv_work_t* req);
  static void on_offload_done(uv_work_t* req, int status);

  std::int32_t reductions_budget = 1000;
  int outstanding_ops = 0;  // offloaded work not yet back; owner thread

  // --- the process in hand, for the watchdog (runtime/watchdog.hpp) ---
  // Owner thread: has the current run lasted its slice (Process::checkpoint)?
  bool slice_spent(Process& p);
  // Owner thread: end the batch after this run, so the loop polls I/O.
  void yield_to_loop() { end_batch_ = true; }
  // Any thread: the run counter and the process in hand (raw pid, 0 if none).
  std::uint64_t runs() const { return runs_.load(std::memory_order_relaxed); }
  std::uint64_t running() const { return running_.load(std::memory_order_relaxed); }
  // Watchdog: run `run` fails at its next suspension point / should yield.
  void condemn(std::uint64_t run) { fail_run_.store(run, std::memory_order_relaxed); }
  static ExitReason cpu_limit_reason();
  void ask_yield(std::uint64_t run) { yield_run_.store(run, std::memory_order_relaxed); }
  // checkpoint() yields after `slice_ns` of a run: as the watchdog says
  // (`watched`), or else by reading the clock.
  void set_slice(std::int64_t slice_ns, bool watched) {
    slice_ns_ = slice_ns;
    slice_watched_ = watched;
  }
  // Watchdog: while held, processes woken here from other threads run on
  // the group's other schedulers instead; hand_off() also moves those
  // already queued here (for the local queue, by signalling the thread).
  void set_held(bool held) { held_.store(held, std::memory_order_relaxed); }
  bool held() const { return held_.load(std::memory_order_relaxed); }
  // `first`: the first call of this hold.
  std::uint64_t hand_off(bool first);
  // Queues p on another scheduler of the group that is not held, moving it
  // there; false (nothing done) if p may not move or there is none.
  bool move_elsewhere(Process* p);
  // Signal handler on the owner thread: publishes the local queue to hand_off().
  void publish_local_queue();
  static bool install_hand_off_signal();

 private:
  struct Timer {
    Pid target;
    MessageNode* msg;
  };
  struct Due {
    std::int64_t deadline;
    std::uint64_t id;
    bool operator>(const Due& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  static void on_async(uv_async_t* h);
  static void on_idle(uv_idle_t* h);
  static void on_timer(uv_timer_t* h);

  void run_batch();
  void take_remote();
  void push_local(Process* p);
  void run_process(Process* p);
  void park(Process* p);
  void requeue(Process* p);
  void finish(Process* p, ExitReason reason);
  void fire_timers();
  void arm_timer();
  void run_posted();
  void terminate_all();
  void close_handles();

  struct QueueGuard;                 // marks the local queue busy for the hand-off signal
  void requeue_here(Process* list);  // pushes back what may not move
  std::uint64_t move_list(Process* list, Process*& kept);
  void lock_timers() noexcept {
    while (timers_lock_.test_and_set(std::memory_order_acquire)) {
    }
  }
  void unlock_timers() noexcept { timers_lock_.clear(std::memory_order_release); }

  Runtime& rt_;
  unsigned index_;
  SchedulerGroup group_{};
  uv_loop_t own_loop_;
  uv_loop_t* loop_;
  bool owns_loop_;
  std::thread thread_;
  uv_async_t async_;
  uv_idle_t idle_;
  uv_timer_t timer_;

  Process* local_head_ = nullptr;
  Process* local_tail_ = nullptr;
  alignas(64) std::atomic<Process*> remote_{nullptr};  // LIFO pushed by other threads
  std::vector<Process*> free_slots_;

  // Watchdog state: written by the owner at each run, read by the watchdog.
  // A cache line of its own: remote_ above is written by other threads at
  // every cross-scheduler wake-up.
  alignas(64) std::uint64_t run_count_ = 0;  // owner thread; runs_ publishes it
  std::atomic<std::uint64_t> runs_{0};
  std::atomic<std::uint64_t> running_{0};
  std::atomic<std::uint64_t> fail_run_{0};
  std::atomic<std::uint64_t> yield_run_{0};
  alignas(64) std::atomic<bool> held_{false};  // read by threads waking processes here
  std::int64_t slice_ns_ = 2'000'000;
  bool slice_watched_ = false;
  bool end_batch_ = false;
  // The local queue, as the hand-off signal sees it (same thread).
  std::atomic<bool> queue_busy_{false};
  std::atomic<Process*> handed_{nullptr};   // published by the signal handler
  std::atomic<bool> signal_missed_{false};  // it came while a push was under way
  int ticks_unsignalled_ = 0;               // watchdog thread

  pthread_t thread_handle_{};
  std::atomic<bool> has_thread_{false};
  std::atomic<std::uint32_t> next_sibling_{0};

  // Guards timers_ and due_: a process the watchdog moved cancels its old
  // scheduler's timers from its new one.
  std::atomic_flag timers_lock_ = ATOMIC_FLAG_INIT;
  std::vector<Due> due_;  // min-heap
  std::unordered_map<std::uint64_t, Timer> timers_;
  std::int64_t armed_deadline_ = 0;
  std::uint64_t id_counter_ = 0;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> has_posted_{false};
  int closed_handles_ = 0;
  std::vector<std::unique_ptr<uv_signal_t>> signals_;
};

std::int64_t now_ns();

}  // namespace troupe::detail
