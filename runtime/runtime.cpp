#include "runtime/runtime.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "runtime/detail/lifo.hpp"
#include "runtime/detail/relations.hpp"
#include "runtime/detail/scheduler.hpp"
#include "runtime/detail/sim_hooks.hpp"
#include "runtime/detail/state.hpp"
#include "runtime/detail/watchdog.hpp"

namespace troupe {

using detail::MessageNode;
using detail::MsgKind;

Runtime::Runtime(RuntimeOptions options) : options_(options) {
  unsigned n = options.loop ? 1 : options.schedulers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, max_schedulers);
  for (unsigned i = 0; i < n; ++i) {
    schedulers_[i] = std::make_unique<detail::Scheduler>(*this, i, options.loop);
    configure(*schedulers_[i], {0, n});
  }
  own_count_.store(n, std::memory_order_relaxed);
  total_.store(n, std::memory_order_release);
  if (!options.loop)
    for (unsigned i = 0; i < n; ++i) schedulers_[i]->start_thread();
  if (options.watchdog.enabled) watchdog_ = std::make_unique<detail::Watchdog>(*this);
}

void Runtime::configure(detail::Scheduler& s, SchedulerGroup group) {
  s.reductions_budget = options_.reductions;
  s.set_group(group);
  const auto& w = options_.watchdog;
  s.set_slice(std::chrono::duration_cast<std::chrono::nanoseconds>(w.yield_after).count(),
              w.enabled);
}

SchedulerGroup Runtime::add_schedulers(unsigned count) {
  if (options_.loop || count == 0) return {};
  std::lock_guard<std::mutex> lock(add_mutex_);
  if (shutting_down_.load(std::memory_order_acquire)) return {};
  const unsigned first = total_.load(std::memory_order_relaxed);
  if (count > max_schedulers - first) return {};
  const SchedulerGroup group{first, count};
  for (unsigned i = first; i < first + count; ++i) {
    schedulers_[i] = std::make_unique<detail::Scheduler>(*this, i, nullptr);
    configure(*schedulers_[i], group);
    schedulers_[i]->start_thread();
  }
  total_.store(first + count, std::memory_order_release);
  return group;
}

RuntimeStats Runtime::stats() const {
  return watchdog_ ? watchdog_->stats() : RuntimeStats{};
}

std::vector<std::string> Runtime::names_of(Pid pid) const {
  std::vector<std::string> names;
  Process* p = lookup(pid);
  if (!p) return names;
  p->lock();
  if (p->gen_ == pid.generation() && p->shared_) names = p->shared_->names;
  p->unlock();
  return names;
}

Runtime::~Runtime() {
  shutdown();
}

namespace {
unsigned checked(unsigned index, unsigned total) {
  if (index >= total) throw std::out_of_range("troupe: no scheduler " + std::to_string(index));
  return index;
}
}  // namespace

uv_loop_t* Runtime::loop(unsigned scheduler) const {
  return schedulers_[checked(scheduler, total_schedulers())]->loop();
}

void Runtime::post(unsigned scheduler, std::function<void()> fn) {
  schedulers_[checked(scheduler, total_schedulers())]->post(std::move(fn));
}

void Runtime::wait_on(unsigned scheduler, std::function<void(const std::function<void()>&)> start) {
  detail::Scheduler* here = detail::Scheduler::current();
  if (here && &here->runtime() == this)
    throw std::logic_error(
        "troupe: Runtime::run_on called from a scheduler thread (a process or a loop "
        "callback); it would block the scheduler or wait for itself");
  schedulers_[checked(scheduler, total_schedulers())]->run_and_wait(std::move(start));
}

Process* Runtime::lookup(Pid pid) const {
  if (!pid) return nullptr;
  Process* p = table_.get(pid.slot());
  if (!p) return nullptr;
  std::uint64_t word = p->state_.load(std::memory_order_acquire);
  if (detail::gen_of(word) != pid.generation() || detail::state_of(word) == detail::st_dead)
    return nullptr;
  return p;
}

bool Runtime::alive(Pid pid) const {
  return lookup(pid) != nullptr;
}

SendResult Runtime::deliver(Pid to, MessageNode* node, bool keep_on_full) {
  Process* p = lookup(to);
  if (!p) {
    node->dispose();
    return SendResult::noproc;
  }
  if (node->kind == MsgKind::user && p->max_mailbox_) {
    std::uint32_t queued = p->pending_user_.fetch_add(1, std::memory_order_relaxed);
    if (queued >= p->max_mailbox_ && p->overflow_ != Overflow::drop_oldest) {
      p->pending_user_.fetch_sub(1, std::memory_order_relaxed);
      if (p->overflow_ == Overflow::reject) {
        if (!keep_on_full) node->dispose();
        return SendResult::mailbox_full;
      }
      node->dispose();
      p->dropped_.fetch_add(1, std::memory_order_relaxed);
      return SendResult::dropped;
    }
    node->counted = true;  // drop_oldest: the owner trims when it drains
  }
  node->target_gen = to.generation();
#ifdef TROUPE_SIMULATION
  if (detail::SimHooks* hooks = detail::sim_hooks()) {
    detail::Scheduler* here = detail::Scheduler::current();
    hooks->on_deliver(here ? Pid::from_raw(here->running()) : Pid{}, to, *node);
  }
#endif
  detail::lifo_push<MessageNode, &MessageNode::next>(p->inbox_, node, std::memory_order_seq_cst);
  wake(p, to.generation());
  return SendResult::ok;
}

void Runtime::wake(Process* p, std::uint32_t gen) {
  std::uint64_t expected = detail::state_word(gen, detail::st_waiting);
  // Most sends find the target running or queued already: a load is enough.
  if (p->state_.load(std::memory_order_seq_cst) != expected) return;
  if (p->state_.compare_exchange_strong(expected, detail::state_word(gen, detail::st_scheduled),
                                        std::memory_order_seq_cst))
    p->sched_->enqueue(p);
}

void Runtime::exit(Pid to, ExitReason reason) {
  deliver(to, detail::make_message<detail::ExitSignal>(MsgKind::exit_signal, Pid{},
                                                       std::move(reason), false));
}

detail::Scheduler& Runtime::place(Process* parent, const SpawnOptions& options) {
  if (options.scheduler >= 0)
    return *schedulers_[static_cast<unsigned>(options.scheduler) % total_schedulers()];
  const SchedulerGroup group = options.group.count ? options.group : own_schedulers();
  if (options.placement == Placement::local) {
    // A process's own scheduler, whatever its group, unless a group is named;
    // a loop callback's only if it is in the group (a gateway's I/O loops
    // keep to their sockets).
    if (parent && (!options.group.count || group.contains(parent->sched_->index())))
      return *parent->sched_;
    detail::Scheduler* current = detail::Scheduler::current();
    if (!parent && current && &current->runtime() == this && group.contains(current->index()))
      return *current;
  }
  return *schedulers_[group.first +
                      round_robin_.fetch_add(1, std::memory_order_relaxed) % group.count];
}

Pid Runtime::spawn_body(Process* parent, detail::Body body, SpawnOptions options) {
  if (shutting_down_.load(std::memory_order_acquire)) {
    body.free(body.fn);
    return Pid{};
  }
  detail::Scheduler& s = place(parent, options);
  Process* p = detail::Scheduler::current() == &s ? s.claim_slot() : table_.claim_fresh();

  std::uint32_t gen = detail::gen_of(p->state_.load(std::memory_order_acquire)) + 1;
  if (gen == 0 || gen >= (1u << 30)) gen = 1;  // the state word keeps 62 bits; stay well inside
  p->gen_ = gen;
  p->sched_ = &s;
  p->pinned_ = options.scheduler >= 0;
  p->max_mailbox_ = options.max_mailbox;
  p->overflow_ = options.overflow;
  p->wait_ = Process::Wait::ready;
  p->body_ = {body.fn, body.free};
  try {
    p->top_ = body.start(body.fn, *p).release();
  } catch (...) {
    body.free(body.fn);
    p->body_ = {};
    p->state_.store(detail::state_word(gen, detail::st_dead), std::memory_order_release);
    throw;
  }
  p->resume_point_ = p->top_;
  Pid pid(p->slot_, gen);

  if (options.link && parent) {
    parent->lock();
    parent->shared_relations().links.push_back(pid);
    parent->unlock();
    p->lock();
    p->shared_relations().links.push_back(parent->self());
    p->unlock();
  }
  live_.fetch_add(1, std::memory_order_acq_rel);
  p->state_.store(detail::state_word(gen, detail::st_scheduled), std::memory_order_seq_cst);
  s.enqueue(p);
  return pid;
}

void Runtime::process_exited(Pid pid) {
  bool last = live_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  if (last || pid.raw() == root_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    run_cv_.notify_all();
    if (options_.loop) uv_stop(options_.loop);
  }
}

bool Runtime::run_done() const {
  if (stop_requested_.load()) return true;
  Pid root = this->root();
  return root ? !alive(root) : live_.load() == 0;
}

void Runtime::set_root(Pid pid) {
  root_.store(pid.raw(), std::memory_order_release);
  if (options_.handle_signals) schedulers_[0]->watch_signals();
}

void Runtime::on_signal(int signum) {
  if (signals_seen_.fetch_add(1) > 0) std::_Exit(128 + signum);  // the second one forces
  Pid root = this->root();
  if (root)
    exit(root, troupe::shutdown);
  else
    stop();
}

void Runtime::run() {
  if (options_.loop) {
    schedulers_[0]->hold_loop(true);
    while (!run_done()) uv_run(options_.loop, UV_RUN_ONCE);
    schedulers_[0]->hold_loop(false);
  } else {
    std::unique_lock<std::mutex> lock(run_mutex_);
    run_cv_.wait(lock, [&] { return run_done(); });
  }
  stop_requested_.store(false);
}

bool Runtime::run_for(Duration max) {
  auto deadline = std::chrono::steady_clock::now() + max;
  if (options_.loop) {
    uv_timer_t timer;
    uv_timer_init(options_.loop, &timer);
    timer.data = this;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(max).count();
    uv_timer_start(
        &timer, [](uv_timer_t* t) { uv_stop(t->loop); }, static_cast<std::uint64_t>(ms), 0);
    schedulers_[0]->hold_loop(true);
    while (!run_done() && std::chrono::steady_clock::now() < deadline)
      uv_run(options_.loop, UV_RUN_ONCE);
    schedulers_[0]->hold_loop(false);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(options_.loop, UV_RUN_NOWAIT);
  } else {
    std::unique_lock<std::mutex> lock(run_mutex_);
    run_cv_.wait_until(lock, deadline, [&] { return run_done(); });
  }
  bool done = run_done();
  stop_requested_.store(false);
  return done;
}

void Runtime::stop() {
  std::lock_guard<std::mutex> lock(run_mutex_);
  stop_requested_.store(true);
  run_cv_.notify_all();
  if (options_.loop) uv_stop(options_.loop);
}

void Runtime::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(add_mutex_);  // no scheduler is being added now
    shutting_down_.store(true, std::memory_order_release);
  }
  watchdog_.reset();  // it reads the schedulers
  const unsigned total = total_schedulers();
  // Processes end first everywhere, so none is left to message a stopped loop.
  for (int round = 0; round < 4 && live_.load() > 0; ++round)
    for (unsigned i = 0; i < total; ++i) schedulers_[i]->shutdown_processes();
  for (unsigned i = 0; i < total; ++i) schedulers_[i]->stop();
  total_.store(0, std::memory_order_release);
  own_count_.store(0, std::memory_order_relaxed);
  for (unsigned i = 0; i < total; ++i) schedulers_[i].reset();
}

}  // namespace troupe
