#include "runtime/detail/scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "runtime/detail/lifo.hpp"
#include "runtime/detail/relations.hpp"
#include "runtime/detail/sim_hooks.hpp"
#include "runtime/detail/state.hpp"
#include "runtime/log.hpp"
#include "runtime/process.hpp"
#include "runtime/runtime.hpp"

namespace troupe::detail {

namespace {

thread_local Scheduler* tls_current = nullptr;

// Process runs per turn of the loop before libuv polls I/O and timers again.
constexpr int batch_limit = 4096;

struct CurrentGuard {
  Scheduler* saved;
  explicit CurrentGuard(Scheduler* s) : saved(tls_current) { tls_current = s; }
  ~CurrentGuard() { tls_current = saved; }
};

// The signal that asks a held scheduler's thread to publish its run queue
// (Go uses the same one to preempt goroutines: nothing else uses it in
// practice, and its default action is to ignore it).
constexpr int hand_off_signal = SIGURG;
std::atomic<bool> hand_off_signal_installed{false};

void on_hand_off_signal(int) {
  const int saved = errno;
  if (Scheduler* s = tls_current) s->publish_local_queue();
  errno = saved;
}

// A receive timeout has no payload: its timer id travels in aux.
struct ReceiveTimeout {};

void check_uv(int rc, const char* what) {
  if (rc != 0) {
    log_error("runtime", "libuv call failed", {{"call", what}, {"error", uv_strerror(rc)}});
    std::abort();
  }
}

}  // namespace

std::int64_t now_ns() {
#ifdef TROUPE_SIMULATION
  if (SimHooks* hooks = sim_hooks()) return hooks->steady_now_ns();
#endif
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Scheduler* Scheduler::current() {
  return tls_current;
}

Scheduler::Scheduler(Runtime& rt, unsigned index, uv_loop_t* foreign_loop)
    : rt_(rt),
      index_(index),
      loop_(foreign_loop ? foreign_loop : &own_loop_),
      owns_loop_(foreign_loop == nullptr) {
  if (owns_loop_) check_uv(uv_loop_init(&own_loop_), "uv_loop_init");
  check_uv(uv_async_init(loop_, &async_, &Scheduler::on_async), "uv_async_init");
  check_uv(uv_idle_init(loop_, &idle_), "uv_idle_init");
  check_uv(uv_timer_init(loop_, &timer_), "uv_timer_init");
  async_.data = this;
  idle_.data = this;
  timer_.data = this;
  // Timers and the idle handle must not keep an application's loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  if (!owns_loop_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

Scheduler::~Scheduler() {
  for (auto& [id, t] : timers_)
    if (t.msg) t.msg->dispose();
  timers_.clear();
}

void Scheduler::start_thread() {
  thread_ = std::thread([this] {
    tls_current = this;
    uv_run(loop_, UV_RUN_DEFAULT);
    tls_current = nullptr;
  });
  thread_handle_ = thread_.native_handle();
  has_thread_.store(true, std::memory_order_release);
}

// --- the local queue and the hand-off signal ------------------------------------
// The local queue is the owner thread's alone, without atomics; the hand-off
// signal's handler runs on that same thread, between two of its
// instructions, and takes the queue only when no queue operation is under
// way (the guard's flag, ordered by signal fences: no cost on the hot path).

struct Scheduler::QueueGuard {
  Scheduler& s;
  explicit QueueGuard(Scheduler& scheduler) : s(scheduler) {
    s.queue_busy_.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~QueueGuard() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.queue_busy_.store(false, std::memory_order_relaxed);
  }
};

bool Scheduler::install_hand_off_signal() {
  static const bool installed = [] {
    struct sigaction current {};
    if (sigaction(hand_off_signal, nullptr, &current) != 0) return false;
    // The application handles it itself: leave it alone (queues then move
    // only as their processes are woken from other threads).
    if (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN) return false;
    struct sigaction action {};
    action.sa_handler = &on_hand_off_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(hand_off_signal, &action, nullptr) == 0;
  }();
  hand_off_signal_installed.store(installed, std::memory_order_release);
  return installed;
}

void Scheduler::publish_local_queue() {
  // Only while a process runs (outside runs the loop itself may be taking
  // from the queue, unguarded) and no push is under way.
  if (running_.load(std::memory_order_relaxed) == 0 || !local_head_) return;
  if (queue_busy_.load(std::memory_order_relaxed)) {
    signal_missed_.store(true, std::memory_order_relaxed);  // ask again
    return;
  }
  Process* head = local_head_;
  Process* tail = local_tail_;
  local_head_ = local_tail_ = nullptr;
  Process* old = handed_.load(std::memory_order_relaxed);
  do {
    tail->next_run_ = old;
  } while (!handed_.compare_exchange_weak(old, head, std::memory_order_release,
                                          std::memory_order_relaxed));
  // Async-signal-safe: should the hold end before the watchdog takes them,
  // the loop takes them back itself (take_remote).
  uv_async_send(&async_);
}

bool Scheduler::move_elsewhere(Process* p) {
  if (p->pinned_ || p->external_op_ || group_.count < 2) return false;
  for (unsigned tries = 0; tries < group_.count; ++tries) {
    const unsigned i =
        group_.first + next_sibling_.fetch_add(1, std::memory_order_relaxed) % group_.count;
    Scheduler* target = rt_.scheduler_at(i);
    if (target == this || !target || target->held()) continue;
    p->sched_ = target;  // p is queued by no one else: we hold its wake-up
    target->enqueue(p);
    return true;
  }
  return false;
}

std::uint64_t Scheduler::move_list(Process* list, Process*& kept) {
  std::uint64_t moved = 0;
  while (list) {
    Process* next = list->next_run_;
    if (move_elsewhere(list)) {
      ++moved;
    } else {
      list->next_run_ = kept;
      kept = list;
    }
    list = next;
  }
  return moved;
}

void Scheduler::requeue_here(Process* list) {
  bool wake = false;
  while (list) {
    Process* next = list->next_run_;
    wake |= lifo_push<Process, &Process::next_run_>(remote_, list, std::memory_order_release) ==
            nullptr;
    list = next;
  }
  if (wake) uv_async_send(&async_);
}

std::uint64_t Scheduler::hand_off(bool first) {
  Process* kept = nullptr;
  // Woken from other threads before the hold was seen, then what the
  // signal handler published of the local queue at the previous tick.
  std::uint64_t moved = move_list(remote_.exchange(nullptr, std::memory_order_acquire), kept);
  Process* handed = handed_.exchange(nullptr, std::memory_order_acquire);
  const bool published = handed != nullptr;
  moved += move_list(handed, kept);
  if (kept) requeue_here(kept);
  // Timers that come due meanwhile would wait for the loop: fire them from
  // here (their processes are woken elsewhere, as the hold redirects them).
  fire_due(now_ns());
  // Once per hold, again at once while the run keeps queueing processes
  // here (or the signal came mid-push), else every 10th tick: the signal
  // may interrupt a blocking system call of the process in hand (EINTR, as
  // with Go's), so not more often than needed.
  if (first) ticks_unsignalled_ = 0;
  const bool missed = signal_missed_.exchange(false, std::memory_order_relaxed);
  const bool due = first || published || missed || ++ticks_unsignalled_ >= 10;
  if (due && has_thread_.load(std::memory_order_acquire) &&
      hand_off_signal_installed.load(std::memory_order_acquire)) {
    ticks_unsignalled_ = 0;
    pthread_kill(thread_handle_, hand_off_signal);
  }
  return moved;
}

ExitReason Scheduler::cpu_limit_reason() {
  return ExitReason::error(
      "cpu limit: held its scheduler past the watchdog's hard limit (WatchdogOptions::hard_limit)");
}

bool Scheduler::slice_spent(Process& p) {
  const std::uint64_t run = run_count_;
  if (slice_watched_)
    return yield_run_.load(std::memory_order_relaxed) == run ||
           fail_run_.load(std::memory_order_relaxed) == run;
  // No watchdog: read the clock, from the first checkpoint of the run.
  const std::int64_t now = now_ns();
  if (p.slice_run_ != run) {
    p.slice_run_ = run;
    p.slice_start_ns_ = now;
    return false;
  }
  return now - p.slice_start_ns_ >= slice_ns_;
}

// --- run queues -------------------------------------------------------------

void Scheduler::push_local(Process* p) {
  {
    QueueGuard busy(*this);
    p->next_run_ = nullptr;
    if (local_tail_)
      local_tail_->next_run_ = p;
    else
      local_head_ = p;
    local_tail_ = p;
  }
  uv_idle_start(&idle_, &Scheduler::on_idle);
}

void Scheduler::enqueue(Process* p) {
  if (tls_current == this) {
    push_local(p);
    return;
  }
  // Held by one process: run it elsewhere rather than behind that one.
  if (held_.load(std::memory_order_relaxed) && move_elsewhere(p)) return;
  Process* head = lifo_push<Process, &Process::next_run_>(remote_, p, std::memory_order_release);
  if (!head) uv_async_send(&async_);  // the first of a batch wakes the loop
}

void Scheduler::take_remote() {
  if (handed_.load(std::memory_order_relaxed)) [[unlikely]] {
    // Published for the watchdog, which has not moved them: run them here.
    Process* p = handed_.exchange(nullptr, std::memory_order_acquire);
    while (p) {
      Process* next = p->next_run_;
      push_local(p);
      p = next;
    }
  }
  if (!remote_.load(std::memory_order_relaxed)) return;
  lifo_take_all<Process, &Process::next_run_>(remote_, [this](Process* p) { push_local(p); });
}

void Scheduler::wake_local(Process* p) {
  std::uint64_t expected = state_word(p->gen_, st_waiting);
  if (p->state_.compare_exchange_strong(expected, state_word(p->gen_, st_scheduled),
                                        std::memory_order_acq_rel))
    push_local(p);
}

void Scheduler::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  has_posted_.store(true, std::memory_order_release);
  uv_async_send(&async_);
}

void Scheduler::run_posted() {
  if (!has_posted_.exchange(false, std::memory_order_acq_rel)) return;
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void Scheduler::on_async(uv_async_t* h) {
  auto* s = static_cast<Scheduler*>(h->data);
  CurrentGuard guard(s);
#ifdef TROUPE_SIMULATION
  if (sim_hooks()) return;  // the simulation runs posted work and processes (run_one)
#endif
  s->run_posted();
  s->run_batch();
}

void Scheduler::on_idle(uv_idle_t* h) {
  auto* s = static_cast<Scheduler*>(h->data);
  CurrentGuard guard(s);
#ifdef TROUPE_SIMULATION
  if (sim_hooks()) {
    uv_idle_stop(h);
    return;
  }
#endif
  s->run_batch();
}

// --- driven by troupe::testing ------------------------------------------------

std::size_t Scheduler::runnable() {
  CurrentGuard guard(this);
  run_posted();
  take_remote();
  std::size_t n = 0;
  for (Process* p = local_head_; p; p = p->next_run_) ++n;
  return n;
}

bool Scheduler::run_one(std::size_t choice) {
  CurrentGuard guard(this);
  run_posted();
  take_remote();
  Process* prev = nullptr;
  Process* p = local_head_;
  for (; p && choice > 0; --choice) {
    prev = p;
    p = p->next_run_;
  }
  if (!p) return false;
  (prev ? prev->next_run_ : local_head_) = p->next_run_;
  if (local_tail_ == p) local_tail_ = prev;
  run_process(p);
  return true;
}

std::optional<std::int64_t> Scheduler::next_deadline() {
  lock_timers();
  while (!due_.empty() && !timers_.count(due_.front().id)) {
    std::pop_heap(due_.begin(), due_.end(), std::greater<>());
    due_.pop_back();
  }
  std::optional<std::int64_t> deadline;
  if (!due_.empty()) deadline = due_.front().deadline;
  unlock_timers();
  return deadline;
}

void Scheduler::run_batch() {
  take_remote();
  end_batch_ = false;
  for (int i = 0; i < batch_limit; ++i) {
    // No guard: between runs the hand-off signal leaves the queue alone.
    Process* p = local_head_;
    if (!p) break;
    local_head_ = p->next_run_;
    if (!local_head_) local_tail_ = nullptr;
    run_process(p);
    if (end_batch_) break;  // a process yielded: let the loop poll I/O first
  }
  if (!local_head_ && !remote_.load(std::memory_order_relaxed)) uv_idle_stop(&idle_);
}

// --- running a process --------------------------------------------------------

void Scheduler::run_process(Process* p) {
  const std::uint32_t gen = p->gen_;
  p->state_.store(state_word(gen, st_running), std::memory_order_relaxed);
  p->reductions_ = reductions_budget;

  switch (p->wait_) {
    case Process::Wait::receive:
      if (!p->receive_ready() && !p->has_exit_) return park(p);
      break;
    case Process::Wait::external:
      p->drain();
      if (!p->external_done_ && !p->has_exit_) return park(p);
      break;
    case Process::Wait::ready:
      break;
  }
  if (p->has_exit_) return finish(p, *p->pending_exit_);

  // For the watchdog: which run, and whose (relaxed: it only samples).
  const std::uint64_t run = ++run_count_;
  runs_.store(run, std::memory_order_relaxed);
  running_.store(p->self().raw(), std::memory_order_relaxed);
  p->resume_point_.resume();
  running_.store(0, std::memory_order_relaxed);

  if (p->top_.done()) {
    auto& promise = p->top_.promise();
    ExitReason reason = promise.exception ? reason_from_exception(promise.exception) : normal;
    return finish(p, std::move(reason));
  }
  if (p->has_exit_) return finish(p, *p->pending_exit_);
  if (fail_run_.load(std::memory_order_relaxed) == run) [[unlikely]]
    return finish(p, cpu_limit_reason());
  if (p->wait_ == Process::Wait::ready || p->yield_pending_) {
    p->yield_pending_ = false;
    return requeue(p);
  }
  park(p);
}

void Scheduler::requeue(Process* p) {
  p->state_.store(state_word(p->gen_, st_scheduled), std::memory_order_relaxed);
  push_local(p);
}

void Scheduler::park(Process* p) {
  const std::uint32_t gen = p->gen_;
  // Read before the store: once senders can see "waiting", one of them may
  // queue p, and the watchdog may run it on another thread at once.
  const bool ready = p->timed_out_ || p->external_done_;
  p->state_.store(state_word(gen, st_waiting), std::memory_order_seq_cst);
  // A sender that pushed before our store saw "running" and left the wake-up
  // to us: look again now that senders can see "waiting".
  if (ready || p->inbox_.load(std::memory_order_seq_cst)) {
    std::uint64_t expected = state_word(gen, st_waiting);
    if (p->state_.compare_exchange_strong(expected, state_word(gen, st_scheduled),
                                          std::memory_order_acq_rel))
      push_local(p);
  }
}

void Scheduler::finish(Process* p, ExitReason reason) {
  const Pid self = p->self();
  if (p->top_) {
    p->top_.destroy();  // runs the destructors of the body's locals
    p->top_ = {};
  }
  p->resume_point_ = {};
  if (p->body_.free) p->body_.free(p->body_.fn);
  p->body_ = {};
  if (p->receive_timer_) cancel_timer(p->receive_timer_);
  p->receive_timer_ = 0;
  p->external_op_ = nullptr;  // a pending offload finds itself orphaned and frees itself
  if (p->matched_) {
    p->matched_->dispose();
    p->matched_ = nullptr;
  }

  // From here on senders see a dead process; links and monitors set after
  // this point get noproc from try_add_link/try_add_monitor.
  p->lock();
  p->state_.store(state_word(p->gen_, st_dead), std::memory_order_release);
  SharedRelations* shared = std::exchange(p->shared_, nullptr);
  p->unlock();

  if (shared) {
    // Senders waiting for room retry and find the process gone.
    for (const ReplyTo& w : shared->space_waiters) rt_.reply(w, Room{});
    if (!shared->names.empty() || !shared->topics.empty())
      rt_.registry().release(self, shared->names, shared->topics);
    for (Pid linked : shared->links) {
      auto* sig = make_message<ExitSignal>(MsgKind::exit_signal, self, reason, true);
      rt_.deliver(linked, sig);
    }
    for (auto& [ref, watcher] : shared->monitored_by) {
      auto* down = make_message<Down>(MsgKind::down, ref, self, reason);
      down->aux = ref.id;
      rt_.deliver(watcher, down);
    }
    delete shared;
  }
  if (OwnRelations* own = std::exchange(p->own_, nullptr)) {
    for (auto& [ref, target] : own->monitors)
      if (Process* t = rt_.table_.get(target.slot())) t->remove_monitor(target.generation(), ref);
    delete own;
  }

  // Free what is queued; anything pushed later waits for the slot's reuse.
  p->drain();
  while (MessageNode* n = p->mailbox_.head) {
    p->mailbox_.remove_after(nullptr, n);
    p->discard_node(n);
  }
  p->scan_prev_ = nullptr;
  p->waiter_ctx_ = nullptr;
  p->waiter_match_ = nullptr;
  p->wait_ = Process::Wait::ready;
  p->trap_exit_ = p->timed_out_ = p->poll_only_ = p->yield_pending_ = false;
  p->external_done_ = p->has_exit_ = false;
  p->pending_exit_.reset();

  free_slots_.push_back(p);
  rt_.process_exited(self);
}

Process* Scheduler::claim_slot() {
  if (!free_slots_.empty()) {
    Process* p = free_slots_.back();
    free_slots_.pop_back();
    return p;
  }
  return rt_.table_.claim_fresh();
}

// --- offload ------------------------------------------------------------------

void Scheduler::on_offload_run(uv_work_t* req) {
  static_cast<ExternalOp*>(req->data)->run();
}

void Scheduler::on_offload_done(uv_work_t* req, int) {
  auto* op = static_cast<ExternalOp*>(req->data);
  delete req;
  Scheduler* s = op->scheduler;
  --s->outstanding_ops;
  Process* p = op->process;
  if (p->gen_ == op->generation && p->external_op_ == op) {
    p->external_done_ = true;
    s->wake_local(p);
  } else {
    delete op;  // its process ended while the work ran
  }
}

// --- timers -------------------------------------------------------------------

std::uint64_t Scheduler::add_timer(std::int64_t delay_ns, Pid target, MessageNode* msg) {
  std::uint64_t id = next_id();
  std::int64_t deadline = now_ns() + std::max<std::int64_t>(delay_ns, 0);
  lock_timers();
  timers_.emplace(id, Timer{target, msg});
  due_.push_back({deadline, id});
  std::push_heap(due_.begin(), due_.end(), std::greater<>());
  unlock_timers();
  if (armed_deadline_ == 0 || deadline < armed_deadline_) arm_timer();
  return id;
}

bool Scheduler::cancel_timer(std::uint64_t id) {
  // A process the watchdog moved cancels what it armed on its old scheduler
  // (the id keeps the index): the owner's timers, under the owner's lock.
  const auto owner_index = static_cast<unsigned>(id & 0xff);
  if (owner_index != index_) {
    Scheduler* owner = rt_.scheduler_at(owner_index);
    return owner && owner->cancel_timer(id);
  }
  lock_timers();
  auto it = timers_.find(id);
  if (it == timers_.end()) {
    unlock_timers();
    return false;
  }
  MessageNode* msg = it->second.msg;
  timers_.erase(it);  // its heap entry is skipped when it comes due ...
  // ... unless cancelled entries pile up (long timeouts cancelled at a high
  // rate, as calls and receives with after() do): then drop them.
  if (due_.size() > 1024 && due_.size() > 2 * timers_.size()) {
    std::erase_if(due_, [&](const Due& d) { return !timers_.count(d.id); });
    std::make_heap(due_.begin(), due_.end(), std::greater<>());
  }
  unlock_timers();
  if (msg) msg->dispose();
  return true;
}

void Scheduler::arm_timer() {
  lock_timers();
  while (!due_.empty() && !timers_.count(due_.front().id)) {
    std::pop_heap(due_.begin(), due_.end(), std::greater<>());
    due_.pop_back();
  }
  if (due_.empty()) {
    unlock_timers();
    armed_deadline_ = 0;
    uv_timer_stop(&timer_);
    return;
  }
  armed_deadline_ = due_.front().deadline;
  unlock_timers();
#ifdef TROUPE_SIMULATION
  if (sim_hooks()) return;  // virtual time: the simulation fires them (fire_due)
#endif
  std::int64_t wait = armed_deadline_ - now_ns();
  std::uint64_t ms = wait <= 0 ? 0 : static_cast<std::uint64_t>((wait + 999'999) / 1'000'000);
  uv_update_time(loop_);
  uv_timer_start(&timer_, &Scheduler::on_timer, ms, 0);
}

void Scheduler::on_timer(uv_timer_t* h) {
  auto* s = static_cast<Scheduler*>(h->data);
  CurrentGuard guard(s);
  s->fire_timers();
  s->run_batch();
}

void Scheduler::fire_timers() {
  fire_due(now_ns());
  armed_deadline_ = 0;
  arm_timer();
}

void Scheduler::fire_due(std::int64_t now) {
  for (;;) {
    lock_timers();
    if (due_.empty() || due_.front().deadline > now) {
      unlock_timers();
      break;
    }
    std::uint64_t id = due_.front().id;
    std::pop_heap(due_.begin(), due_.end(), std::greater<>());
    due_.pop_back();
    auto it = timers_.find(id);
    if (it == timers_.end()) {  // cancelled
      unlock_timers();
      continue;
    }
    Timer t = it->second;
    timers_.erase(it);
    unlock_timers();
    // A receive timeout is a message too: the process may have moved to
    // another scheduler since it armed the timer here.
    MessageNode* msg = t.msg;
    if (!msg) {
      msg = make_message<ReceiveTimeout>(MsgKind::timeout);
      msg->aux = id;
    }
    rt_.deliver(t.target, msg);
  }
}

// --- waiting for the loop ----------------------------------------------------------

void Scheduler::run_and_wait(std::function<void(const std::function<void()>&)> start) {
  if (tls_current == this)
    throw std::logic_error("troupe: a scheduler's thread would wait for itself");
  struct Wait {
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    std::exception_ptr error;
  };
  // Shared, so that a late or repeated finished() touches nothing freed.
  auto wait = std::make_shared<Wait>();
  std::function<void()> finished = [wait] {
    std::lock_guard<std::mutex> lock(wait->m);
    wait->finished = true;
    wait->cv.notify_all();
  };
  auto run = [wait, finished, start = std::move(start)] {
    try {
      start(finished);
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(wait->m);
        wait->error = std::current_exception();
      }
      finished();
    }
  };
  auto is_finished = [&wait] {
    std::lock_guard<std::mutex> lock(wait->m);
    return wait->finished;
  };
  if (!owns_loop_) {  // the caller is the loop's thread
    run();
    while (!is_finished()) uv_run(loop_, UV_RUN_ONCE);
  } else {
    post(std::move(run));
    std::unique_lock<std::mutex> lock(wait->m);
    wait->cv.wait(lock, [&] { return wait->finished; });
  }
  if (wait->error) std::rethrow_exception(wait->error);
}

// --- signals --------------------------------------------------------------------

void Scheduler::watch_signals() {
  auto install = [this] {
    if (!signals_.empty()) return;
    for (int signum : {SIGINT, SIGTERM}) {
      auto sig = std::make_unique<uv_signal_t>();
      uv_signal_init(loop_, sig.get());
      sig->data = this;
      uv_signal_start(
          sig.get(),
          [](uv_signal_t* h, int n) { static_cast<Scheduler*>(h->data)->rt_.on_signal(n); },
          signum);
      uv_unref(reinterpret_cast<uv_handle_t*>(sig.get()));
      signals_.push_back(std::move(sig));
    }
  };
  if (tls_current == this || !owns_loop_) return install();
  // Installed before we return, so a signal right after start() is caught.
  run_and_wait([&](const std::function<void()>& finished) {
    install();
    finished();
  });
}

// --- shutdown -----------------------------------------------------------------

void Scheduler::terminate_all() {
  CurrentGuard guard(this);
  take_remote();
  local_head_ = local_tail_ = nullptr;  // every queued process is about to end
  handed_.store(nullptr, std::memory_order_relaxed);
  std::uint32_t n = rt_.table_.size();
  for (std::uint32_t slot = 0; slot < n; ++slot) {
    Process* p = rt_.table_.get(slot);
    if (!p || p->sched_ != this) continue;
    std::uint64_t st = state_of(p->state_.load(std::memory_order_acquire));
    if (st == st_dead || p->gen_ == 0) continue;
    finish(p, troupe::shutdown);
  }
  // Exit signals between dying processes may have queued some again.
  take_remote();
  local_head_ = local_tail_ = nullptr;
}

void Scheduler::close_handles() {
  auto close = [](auto* h) {
    auto* handle = reinterpret_cast<uv_handle_t*>(h);
    if (uv_is_closing(handle)) return;
    uv_close(handle,
             [](uv_handle_t* closed) { ++static_cast<Scheduler*>(closed->data)->closed_handles_; });
  };
  uv_timer_stop(&timer_);
  uv_idle_stop(&idle_);
  close(&async_);
  close(&idle_);
  close(&timer_);
  for (auto& sig : signals_) {
    uv_signal_stop(sig.get());
    close(sig.get());
  }
}

void Scheduler::shutdown_processes() {
  if (owns_loop_ && thread_.joinable()) {
    run_and_wait([this](const std::function<void()>& finished) {
      terminate_all();
      finished();
    });
  } else {
    terminate_all();
  }
}

void Scheduler::stop() {
  if (owns_loop_ && thread_.joinable()) {
    post([this] { close_handles(); });
    thread_.join();  // uv_run returns once offloaded work has completed too
    check_uv(uv_loop_close(&own_loop_), "uv_loop_close");
    return;
  }
  close_handles();
  // Embedded: run the application's loop until our handles are closed and
  // offloaded work has come back (it refers to our processes).
  while (outstanding_ops > 0 || closed_handles_ < 3 + static_cast<int>(signals_.size()))
    uv_run(loop_, UV_RUN_ONCE);
}

}  // namespace troupe::detail
