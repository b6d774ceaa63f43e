#include "runtime/process.hpp"

#include <algorithm>

#include "runtime/detail/lifo.hpp"
#include "runtime/detail/relations.hpp"
#include "runtime/detail/scheduler.hpp"
#include "runtime/detail/sim_hooks.hpp"
#include "runtime/detail/state.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

using detail::MessageNode;
using detail::MsgKind;

const char* to_string(CallError::Kind kind) {
  switch (kind) {
    case CallError::Kind::timeout:
      return "timeout";
    case CallError::Kind::noproc:
      return "noproc";
    case CallError::Kind::exit:
      return "exit";
    case CallError::Kind::mailbox_full:
      return "mailbox_full";
    case CallError::Kind::bad_reply:
      return "bad_reply";
  }
  return "unknown";
}

std::string to_string(const CallError& e) {
  switch (e.kind) {
    case CallError::Kind::exit:
      return "exit: " + to_string(e.reason);
    case CallError::Kind::bad_reply:
      return "bad_reply: " + e.message;
    default:
      return to_string(e.kind);
  }
}

Runtime& Process::runtime() const {
  return sched_->runtime();
}

SendResult Process::deliver(Pid to, MessageNode* node) {
  return runtime().deliver(to, node);
}

Pid Process::spawn_body(detail::Body body, SpawnOptions options) {
  return runtime().spawn_body(this, body, options);
}

void Process::exit(Pid target, ExitReason reason) {
  deliver(target, detail::make_message<detail::ExitSignal>(MsgKind::exit_signal, self(),
                                                           std::move(reason), false));
}

// --- mailbox --------------------------------------------------------------------

void Process::drain() {
  if (!inbox_.load(std::memory_order_relaxed)) return;
  detail::lifo_take_all<MessageNode, &MessageNode::next>(inbox_,
                                                         [this](MessageNode* n) { accept(n); });
  if (max_mailbox_ && overflow_ == Overflow::drop_oldest) trim_mailbox();
}

void Process::accept(MessageNode* n) {
  if (n->target_gen != gen_) return discard_node(n);  // sent to an earlier incarnation
  switch (n->kind) {
    case MsgKind::user:
    case MsgKind::exit_msg:
      mailbox_.push_back(n);
      return;
    case MsgKind::down: {
      // Keep it only while the monitor is set: demonitor means never delivered.
      auto* own = own_;
      if (own) {
        auto it = std::find_if(own->monitors.begin(), own->monitors.end(),
                               [&](auto& m) { return m.first.id == n->aux; });
        if (it != own->monitors.end()) {
          own->monitors.erase(it);
          mailbox_.push_back(n);
          return;
        }
      }
      return discard_node(n);
    }
    case MsgKind::reply:
      if (own_ && std::any_of(own_->active_calls.begin(), own_->active_calls.end(),
                              [&](Ref r) { return r.id == n->aux; })) {
        mailbox_.push_back(n);
        return;
      }
      return discard_node(n);  // a late reply: its call has given up
    case MsgKind::exit_signal: {
      auto& sig = detail::payload<detail::ExitSignal>(n);
      on_exit_signal(sig.from, sig.reason, sig.from_link);
      return n->dispose();
    }
    case MsgKind::wake:
      return n->dispose();
    case MsgKind::cpu_limit:
      // The watchdog's hard limit: a receive is a suspension point even when
      // a message is there, so the process fails at the one that drains this.
      set_pending_exit(detail::Scheduler::cpu_limit_reason());
      return n->dispose();
    case MsgKind::timeout:
      // Only the receive that armed it times out; an older timer's is stale.
      if (n->aux == receive_timer_) {
        receive_timer_ = 0;
        timed_out_ = true;
      }
      return n->dispose();
  }
}

void Process::discard_node(MessageNode* n) {
  consumed(n);
  n->dispose();
}

void Process::consumed(MessageNode* n) {
  if (!n->counted) return;
  std::uint32_t left = pending_user_.fetch_sub(1, std::memory_order_seq_cst) - 1;
  // Pairs with wait_for_room: it sets the flag, then reads the count.
  if (left <= max_mailbox_ / 2 && space_waiting_.load(std::memory_order_seq_cst))
    release_space_waiters();
}

void Process::release_space_waiters() {
  std::vector<ReplyTo> waiters;
  lock();
  if (shared_) waiters.swap(shared_->space_waiters);
  space_waiting_.store(false, std::memory_order_relaxed);
  unlock();
  for (const ReplyTo& w : waiters) runtime().reply(w, detail::Room{});
}

SendResult Process::deliver_or_keep(Pid to, MessageNode* node) {
  return runtime().deliver(to, node, true);
}

bool Process::wait_for_room(Pid to, ReplyTo waiter) {
  Process* t = runtime().lookup(to);
  if (!t) return false;
  t->lock();
  t->space_waiting_.store(true, std::memory_order_seq_cst);
  std::uint64_t word = t->state_.load(std::memory_order_acquire);
  bool wait = detail::gen_of(word) == to.generation() &&
              detail::state_of(word) != detail::st_dead &&
              t->pending_user_.load(std::memory_order_seq_cst) >= t->max_mailbox_;
  if (wait) t->shared_relations().space_waiters.push_back(waiter);
  t->unlock();
  return wait;
}

void Process::trim_mailbox() {
  MessageNode* prev = nullptr;
  MessageNode* n = mailbox_.head;
  while (n && pending_user_.load(std::memory_order_relaxed) > max_mailbox_) {
    MessageNode* next = n->next;
    if (n->counted) {
      if (scan_prev_ == n) scan_prev_ = prev;
      mailbox_.remove_after(prev, n);
      discard_node(n);
      dropped_.fetch_add(1, std::memory_order_relaxed);
    } else {
      prev = n;
    }
    n = next;
  }
}

std::size_t Process::mailbox_size() {
  drain();
  std::size_t count = 0;
  for (MessageNode* n = mailbox_.head; n; n = n->next) ++count;
  return count;
}

// --- receive --------------------------------------------------------------------

bool Process::begin_receive(void* ctx, Matcher match, std::int64_t timeout_ns) {
  waiter_ctx_ = ctx;
  waiter_match_ = match;
  scan_prev_ = nullptr;
  matched_ = nullptr;
  timed_out_ = false;
  poll_only_ = timeout_ns == 0;
  wait_ = Wait::receive;
  if (has_exit_) return false;
  if (--reductions_ <= 0) {
    // Out of budget: let the others on this scheduler run, then scan.
    yield_pending_ = true;
    if (timeout_ns > 0) receive_timer_ = sched_->add_timer(timeout_ns, self(), nullptr);
    return false;
  }
  drain();
  if (has_exit_) return false;
  if (scan()) return true;
  if (poll_only_) {
    timed_out_ = true;
    return true;
  }
  if (timeout_ns > 0) receive_timer_ = sched_->add_timer(timeout_ns, self(), nullptr);
  return false;
}

bool Process::scan() {
  MessageNode* prev = scan_prev_;
  MessageNode* n = prev ? prev->next : mailbox_.head;
  while (n) {
    if (waiter_match_(waiter_ctx_, n)) {
#ifdef TROUPE_SIMULATION
      if (detail::SimHooks* hooks = detail::sim_hooks(); hooks && !hooks->on_receive(*this, *n))
        return false;  // failed instead (set_pending_exit)
#endif
      mailbox_.remove_after(prev, n);
      consumed(n);
      matched_ = n;
      return true;
    }
    prev = n;
    n = n->next;
  }
  scan_prev_ = prev;
  return false;
}

bool Process::receive_ready() {
  drain();
  if (has_exit_) return false;
  try {
    if (scan()) return true;
  } catch (...) {
    // A guard threw while the scheduler scanned: the process fails with it.
    set_pending_exit(detail::reason_from_exception(std::current_exception()));
    return false;
  }
  if (timed_out_) return true;
  if (poll_only_) {
    timed_out_ = true;
    return true;
  }
  return false;
}

MessageNode* Process::end_receive() {
  if (receive_timer_) {
    sched_->cancel_timer(receive_timer_);
    receive_timer_ = 0;
  }
  wait_ = Wait::ready;
  waiter_ctx_ = nullptr;
  waiter_match_ = nullptr;
  scan_prev_ = nullptr;
  timed_out_ = poll_only_ = false;
  return std::exchange(matched_, nullptr);
}

// --- yielding --------------------------------------------------------------------

bool Process::slice_spent() noexcept {
  return sched_->slice_spent(*this);
}

void Process::suspend_yield(std::coroutine_handle<> h) noexcept {
  suspend_ready(h);
  sched_->yield_to_loop();
}

unsigned Process::scheduler_index() const {
  return sched_->index();
}

// --- offload --------------------------------------------------------------------

void Process::begin_external(std::coroutine_handle<> h, detail::ExternalOp* op) {
  resume_point_ = h;
  wait_ = Wait::external;
  external_done_ = false;
  external_op_ = op;
  op->process = this;
  op->scheduler = sched_;
  op->generation = gen_;
  auto* req = new uv_work_t;
  req->data = op;
  ++sched_->outstanding_ops;
  uv_queue_work(sched_->loop(), req, &detail::Scheduler::on_offload_run,
                &detail::Scheduler::on_offload_done);
}

detail::ExternalOp* Process::end_external() {
  wait_ = Wait::ready;
  external_done_ = false;
  return std::exchange(external_op_, nullptr);
}

// --- exit signals, links, monitors ----------------------------------------------

void Process::set_pending_exit(ExitReason reason) {
  if (has_exit_) return;
  has_exit_ = true;
  pending_exit_ = std::make_unique<ExitReason>(std::move(reason));
}

void Process::on_exit_signal(Pid from, const ExitReason& reason, bool from_link) {
  if (from_link) {
    lock();
    if (shared_) std::erase(shared_->links, from);
    unlock();
  }
  if (!from_link && reason.kind() == ExitReason::Kind::kill) return set_pending_exit(killed);
  if (trap_exit_) {
    auto* n = detail::make_message<Exit>(MsgKind::exit_msg, from, reason);
    n->target_gen = gen_;
    mailbox_.push_back(n);
    return;
  }
  if (reason.kind() == ExitReason::Kind::normal) {
    // A normal exit of a linked process is ignored; exit(self(), normal) is not.
    if (!from_link && from == self()) set_pending_exit(normal);
    return;
  }
  set_pending_exit(reason);
}

void Process::lock() noexcept {
  while (lock_.test_and_set(std::memory_order_acquire)) {
    while (lock_.test(std::memory_order_relaxed)) __builtin_ia32_pause();
  }
}

detail::SharedRelations& Process::shared_relations() {
  if (!shared_) shared_ = new detail::SharedRelations;
  return *shared_;
}

detail::OwnRelations& Process::own_relations() {
  if (!own_) own_ = new detail::OwnRelations;
  return *own_;
}

namespace {
bool alive_word(std::uint64_t word, std::uint32_t gen) {
  return detail::gen_of(word) == gen && detail::state_of(word) != detail::st_dead;
}
}  // namespace

bool Process::try_add_link(std::uint32_t gen, Pid other) {
  lock();
  bool alive = alive_word(state_.load(std::memory_order_acquire), gen);
  if (alive) {
    auto& links = shared_relations().links;
    if (std::find(links.begin(), links.end(), other) == links.end()) links.push_back(other);
  }
  unlock();
  return alive;
}

bool Process::try_add_monitor(std::uint32_t gen, Ref ref, Pid watcher) {
  lock();
  bool alive = alive_word(state_.load(std::memory_order_acquire), gen);
  if (alive) shared_relations().monitored_by.emplace_back(ref, watcher);
  unlock();
  return alive;
}

void Process::remove_link(std::uint32_t gen, Pid other) {
  lock();
  if (shared_ && alive_word(state_.load(std::memory_order_acquire), gen))
    std::erase(shared_->links, other);
  unlock();
}

void Process::remove_monitor(std::uint32_t gen, Ref ref) {
  lock();
  if (shared_ && alive_word(state_.load(std::memory_order_acquire), gen))
    std::erase_if(shared_->monitored_by, [&](auto& m) { return m.first == ref; });
  unlock();
}

void Process::link(Pid other) {
  if (!other || other == self()) return;
  lock();
  auto& links = shared_relations().links;
  if (std::find(links.begin(), links.end(), other) == links.end()) links.push_back(other);
  unlock();
  Process* target = runtime().table_.get(other.slot());
  if (!target || !target->try_add_link(other.generation(), self())) {
    lock();
    std::erase(shared_->links, other);
    unlock();
    // Erlang: linking a process that does not exist is a noproc exit signal.
    deliver(self(), detail::make_message<detail::ExitSignal>(MsgKind::exit_signal, other,
                                                             troupe::noproc, true));
  }
}

void Process::unlink(Pid other) {
  lock();
  if (shared_) std::erase(shared_->links, other);
  unlock();
  if (Process* target = runtime().table_.get(other.slot()))
    target->remove_link(other.generation(), self());
}

Ref Process::make_ref() {
  return Ref{sched_->next_id()};
}

Ref Process::monitor(Pid target) {
  Ref ref = make_ref();
  Process* t = target ? runtime().table_.get(target.slot()) : nullptr;
  if (t && t->try_add_monitor(target.generation(), ref, self())) {
    own_relations().monitors.emplace_back(ref, target);
  } else {
    auto* down = detail::make_message<Down>(MsgKind::down, ref, target, troupe::noproc);
    down->aux = ref.id;
    down->target_gen = gen_;
    mailbox_.push_back(down);
  }
  return ref;
}

void Process::demonitor(Ref ref) {
  if (own_) {
    auto& monitors = own_->monitors;
    auto it =
        std::find_if(monitors.begin(), monitors.end(), [&](auto& m) { return m.first == ref; });
    if (it != monitors.end()) {
      // Still set, so no Down for it has been accepted yet: none will be.
      Pid target = it->second;
      monitors.erase(it);
      if (Process* t = runtime().table_.get(target.slot()))
        t->remove_monitor(target.generation(), ref);
      return;
    }
  }
  // Its Down may already be in the mailbox: flush it.
  MessageNode* prev = nullptr;
  for (MessageNode* n = mailbox_.head; n; prev = n, n = n->next) {
    if (n->kind == MsgKind::down && n->aux == ref.id) {
      if (scan_prev_ == n) scan_prev_ = prev;
      mailbox_.remove_after(prev, n);
      n->dispose();
      return;
    }
  }
}

// --- calls and timers -----------------------------------------------------------

void Process::begin_call(Ref ref) {
  own_relations().active_calls.push_back(ref);
}

void Process::end_call(Ref ref) {
  std::erase(own_relations().active_calls, ref);
  // A reply that arrived but lost to the timeout must not linger.
  MessageNode* prev = nullptr;
  MessageNode* n = mailbox_.head;
  while (n) {
    MessageNode* next = n->next;
    if (n->kind == MsgKind::reply && n->aux == ref.id) {
      mailbox_.remove_after(prev, n);
      n->dispose();
    } else {
      prev = n;
    }
    n = next;
  }
}

TimerRef Process::start_timer(Duration delay, Pid to, MessageNode* node) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
  return TimerRef{sched_->add_timer(ns, to, node)};
}

bool Process::cancel_timer(TimerRef ref) {
  return ref.valid() && sched_->cancel_timer(ref.id);
}

}  // namespace troupe
