#include "supervisors/detail/supervisor_behaviour.hpp"

#include <algorithm>

#include "runtime/clock.hpp"

namespace troupe::detail {

namespace {

ExitReason start_failure_reason(const StartError& e) {
  switch (e.kind) {
    case StartError::Kind::failed:
      return e.reason;
    case StartError::Kind::already_started:
      return ExitReason::error("already_started " + e.holder.to_string());
    case StartError::Kind::timeout:
      return ExitReason::error("start timeout");
  }
  return e.reason;
}

ChildError error_of(ChildError::Kind kind, std::string detail = {}) {
  return ChildError{kind, {}, {}, std::move(detail)};
}

}  // namespace

SupervisorBehaviour::SupervisorBehaviour(SupervisorConfig config)
    : config_(std::move(config)), window_(config_.spec.intensity, config_.spec.period) {}

// --- bookkeeping --------------------------------------------------------------------

SupervisorBehaviour::It SupervisorBehaviour::add(ChildSpec spec) {
  It it = children_.insert(children_.end(), Child{next_key_++, std::move(spec)});
  by_key_.emplace(it->key, it);
  if (!config_.dynamic) by_id_.emplace(it->spec.id, it);
  return it;
}

void SupervisorBehaviour::remove(It it) {
  if (it->pid) by_pid_.erase(it->pid);
  by_key_.erase(it->key);
  if (!config_.dynamic) by_id_.erase(it->spec.id);
  children_.erase(it);
}

void SupervisorBehaviour::report(SupervisorEvent::Kind kind, const Child& c, Pid pid,
                                 ExitReason reason, Duration delay) {
  std::string id = c.spec.id;
  if (id.empty() && pid) id = pid.to_string();
  detail::report(SupervisorEvent{kind, this->pid(), std::move(id), pid, std::move(reason), delay});
}

// --- starting and stopping children ---------------------------------------------------

Task<StartResult> SupervisorBehaviour::start(It it, bool restart) {
  auto fn = it->spec.start.fn;  // the start's closure lives until its task is done
  StartResult r = co_await (*fn)(process(), it->spec.name);
  if (!r) {
    report(SupervisorEvent::Kind::start_failed, *it, {}, start_failure_reason(r.error()));
    co_return r;
  }
  it->restarting = false;
  if (Pid child = r.value()) {
    it->pid = child;
    it->started_at = steady_now();
    by_pid_[child] = it;
    report(restart ? SupervisorEvent::Kind::child_restarted : SupervisorEvent::Kind::child_started,
           *it, child);
  }
  co_return r;
}

Task<bool> SupervisorBehaviour::await_down(Ref monitor, Duration timeout) {
  co_return co_await process().receive(
      when([monitor](const Down& d) { return d.ref == monitor; }, [](Down&) { return true; }),
      after(timeout, [] { return false; }));
}

// Unlinks first, so the child's end arrives as a Down only; an Exit it sent
// before that names a Pid no longer in by_pid_ and is ignored.
Task<> SupervisorBehaviour::stop_child(It it) {
  it->restarting = false;
  Pid child = it->pid;
  if (!child) co_return;
  by_pid_.erase(child);
  it->pid = {};
  Process& self = process();
  Ref monitor = self.monitor(child);
  self.unlink(child);
  Shutdown shutdown = effective_shutdown(it->spec);
  if (shutdown.kind == Shutdown::Kind::brutal_kill) {
    self.exit(child, troupe::kill);
    co_await await_down(monitor, infinite_wait);
    co_return;
  }
  self.exit(child, troupe::shutdown);
  Duration wait = shutdown.kind == Shutdown::Kind::infinity ? infinite_wait : shutdown.timeout;
  if (co_await await_down(monitor, wait)) co_return;
  self.exit(child, troupe::kill);
  co_await await_down(monitor, infinite_wait);
}

Task<> SupervisorBehaviour::stop_all() {
  if (config_.dynamic) {
    co_await stop_all_at_once();
    co_return;
  }
  for (auto rit = children_.rbegin(); rit != children_.rend(); ++rit) {
    co_await stop_child(std::prev(rit.base()));
  }
}

// Dynamic supervisors stop all children in parallel (as OTP's
// simple_one_for_one): signal every child, then collect the Downs, killing
// those whose shutdown timeout passes first.
Task<> SupervisorBehaviour::stop_all_at_once() {
  struct Waiting {
    Clock::time_point deadline;
    Pid pid;
    Ref monitor;
  };
  Process& self = process();
  std::vector<Waiting> timed;
  std::unordered_map<Ref, Pid> pending;
  const auto now = steady_now();
  for (Child& c : children_) {
    c.restarting = false;
    if (!c.pid) continue;
    Pid child = std::exchange(c.pid, Pid{});
    Ref monitor = self.monitor(child);
    self.unlink(child);
    pending.emplace(monitor, child);
    Shutdown shutdown = effective_shutdown(c.spec);
    if (shutdown.kind == Shutdown::Kind::brutal_kill) {
      self.exit(child, troupe::kill);
      continue;
    }
    self.exit(child, troupe::shutdown);
    if (shutdown.kind == Shutdown::Kind::timeout)
      timed.push_back({now + shutdown.timeout, child, monitor});
  }
  by_pid_.clear();
  std::sort(timed.begin(), timed.end(),
            [](const Waiting& a, const Waiting& b) { return a.deadline < b.deadline; });
  std::size_t next_deadline = 0;
  while (!pending.empty()) {
    Duration wait = infinite_wait;
    if (next_deadline < timed.size())
      wait = std::max(Duration::zero(), Duration(timed[next_deadline].deadline - steady_now()));
    bool got =
        co_await self.receive(when([&pending](const Down& d) { return pending.count(d.ref) != 0; },
                                   [&pending](Down& d) {
                                     pending.erase(d.ref);
                                     return true;
                                   }),
                              after(wait, [] { return false; }));
    if (got) continue;
    const auto t = steady_now();
    for (; next_deadline < timed.size() && timed[next_deadline].deadline <= t; ++next_deadline)
      if (pending.count(timed[next_deadline].monitor))
        self.exit(timed[next_deadline].pid, troupe::kill);
  }
}

// --- the supervisor's life ------------------------------------------------------------

Task<> SupervisorBehaviour::init() {
  process().trap_exit(true);
  std::string problem = validate(config_.spec);
  if (!problem.empty()) {
    stop(ExitReason::error("invalid supervisor spec: " + problem));
    co_return;
  }
  std::vector<ChildSpec> specs = std::move(config_.spec.children);
  config_.spec.children.clear();
  for (auto& spec : specs) add(std::move(spec));
  for (It it = children_.begin(); it != children_.end();) {
    It next = std::next(it);
    StartResult r = co_await start(it, false);
    if (!r) {
      std::string why = "failed_to_start_child " + it->spec.id + ": " +
                        to_string(start_failure_reason(r.error()));
      co_await stop_all();
      stop(ExitReason::shutdown_with(std::move(why)));
      co_return;
    }
    if (!r.value() && it->spec.restart == temporary) remove(it);
    it = next;
  }
}

Task<> SupervisorBehaviour::terminate(const ExitReason&) {
  co_await stop_all();
}

Task<> SupervisorBehaviour::handle_info(Exit& e) {
  auto found = by_pid_.find(e.from);
  if (found == by_pid_.end()) co_return;  // stopped by us, or not a child
  It it = found->second;
  by_pid_.erase(found);
  it->pid = {};
  co_await child_exited(it, e.from, std::move(e.reason));
}

Task<> SupervisorBehaviour::handle_info(RestartDue& r) {
  auto found = by_key_.find(r.key);
  if (found == by_key_.end() || !found->second->restarting) co_return;  // cancelled meanwhile
  co_await restart(found->second);
}

Task<> SupervisorBehaviour::child_exited(It it, Pid old, ExitReason reason) {
  const bool abnormal = !reason.is_normal_exit();
  if (abnormal) report(SupervisorEvent::Kind::child_crashed, *it, old, reason);
  const Restart type = it->spec.restart;
  if (type == permanent || (type == transient && abnormal)) {
    if (it->spec.backoff.enabled())
      co_await delay_restart(it);
    else
      co_await restart(it);
    co_return;
  }
  const bool significant = it->spec.significant;
  if (type == temporary || config_.dynamic) remove(it);
  if (significant && auto_shutdown_due()) {
    detail::report(SupervisorEvent{SupervisorEvent::Kind::auto_shutdown, pid(), {}, {}, {}, {}});
    stop(ExitReason::shutdown_with("auto_shutdown"));
  }
}

bool SupervisorBehaviour::auto_shutdown_due() const {
  switch (config_.spec.auto_shutdown) {
    case AutoShutdown::never:
      return false;
    case AutoShutdown::any_significant:
      return true;
    case AutoShutdown::all_significant:
      return std::none_of(children_.begin(), children_.end(), [](const Child& c) {
        return c.spec.significant && (c.pid || c.restarting);
      });
  }
  return false;
}

std::vector<SupervisorBehaviour::It> SupervisorBehaviour::group_of(It it) {
  std::vector<It> group;
  switch (config_.spec.strategy) {
    case Strategy::one_for_one:
      group.push_back(it);
      break;
    case Strategy::one_for_all:
      for (It c = children_.begin(); c != children_.end(); ++c) group.push_back(c);
      break;
    case Strategy::rest_for_one:
      for (It c = it; c != children_.end(); ++c) group.push_back(c);
      break;
  }
  return group;
}

// Stops the running members of `it`'s group other than `it`, last started
// first, and marks them for restart; temporary ones are forgotten instead.
Task<> SupervisorBehaviour::stop_siblings(It it, const std::vector<It>& group) {
  for (auto rit = group.rbegin(); rit != group.rend(); ++rit) {
    It c = *rit;
    if (c == it) continue;
    const bool was_running = c->pid.valid() || c->restarting;
    co_await stop_child(c);
    if (c->spec.restart == temporary)
      remove(c);
    else
      c->restarting = was_running;
  }
}

// Backoff: the group goes down now, the restart happens after the delay. It
// counts against the intensity when it happens, so a child crashing at once
// after every start spends the budget at the backoff's pace, not in a loop.
Task<> SupervisorBehaviour::delay_restart(It it) {
  const Backoff& b = it->spec.backoff;
  if (steady_now() - it->started_at >= b.reset_after) it->backoff_n = 0;
  Duration delay = backoff_delay(b, it->backoff_n);
  ++it->backoff_n;
  it->restarting = true;
  co_await stop_siblings(it, group_of(it));
  report(SupervisorEvent::Kind::restart_delayed, *it, {}, {}, delay);
  process().send_after(delay, pid(), RestartDue{it->key});
}

void SupervisorBehaviour::retry_later(It it) {
  it->restarting = true;
  if (!it->spec.backoff.enabled()) {
    // As OTP's try_again_restart: through the mailbox, so other requests are
    // served between attempts; every attempt counts against the intensity.
    process().send(pid(), RestartDue{it->key});
    return;
  }
  Duration delay = backoff_delay(it->spec.backoff, it->backoff_n++);
  report(SupervisorEvent::Kind::restart_delayed, *it, {}, {}, delay);
  process().send_after(delay, pid(), RestartDue{it->key});
}

Task<> SupervisorBehaviour::restart(It it) {
  if (!window_.add(steady_now())) {
    ExitReason reason = ExitReason::shutdown_with("reached_max_restart_intensity");
    report(SupervisorEvent::Kind::intensity_exceeded, *it, {}, reason);
    stop(std::move(reason));
    co_return;
  }
  it->restarting = true;
  std::vector<It> group = group_of(it);
  if (group.size() > 1) {
    co_await stop_siblings(it, group);
    group = group_of(it);  // temporary siblings are gone
  }
  for (It c : group) {
    if (!c->restarting) continue;
    StartResult r = co_await start(c, true);
    if (!r) {
      retry_later(c);
      co_return;
    }
  }
}

// --- calls ----------------------------------------------------------------------------

Task<ChildResult> SupervisorBehaviour::handle_call(StartChildReq& r) {
  ChildSpec& spec = r.spec;
  if (!spec.start.fn) co_return unexpected(error_of(ChildError::Kind::invalid_spec, "no start"));
  if (spec.significant && (spec.restart == permanent || config_.spec.auto_shutdown == never))
    co_return unexpected(error_of(ChildError::Kind::invalid_spec, "significant child not allowed"));
  if (config_.dynamic) {
    if (children_.size() >= config_.max_children)
      co_return unexpected(error_of(ChildError::Kind::max_children));
  } else {
    if (spec.id.empty()) co_return unexpected(error_of(ChildError::Kind::invalid_spec, "empty id"));
    auto found = by_id_.find(spec.id);
    if (found != by_id_.end()) {
      if (found->second->pid)
        co_return unexpected(
            ChildError{ChildError::Kind::already_started, {}, found->second->pid, {}});
      co_return unexpected(error_of(ChildError::Kind::already_present));
    }
  }
  It it = add(std::move(spec));
  StartResult started = co_await start(it, false);
  if (!started) {
    remove(it);
    co_return unexpected(
        ChildError{ChildError::Kind::start_failed, start_failure_reason(started.error()), {}, {}});
  }
  Pid child = started.value();
  if (!child && (config_.dynamic || it->spec.restart == temporary)) remove(it);
  co_return child;
}

Task<ChildDone> SupervisorBehaviour::handle_call(TerminateChildReq& r) {
  It it;
  if (r.pid) {
    auto found = by_pid_.find(r.pid);
    if (found == by_pid_.end()) co_return unexpected(error_of(ChildError::Kind::not_found));
    it = found->second;
  } else {
    auto found = by_id_.find(r.id);
    if (found == by_id_.end()) co_return unexpected(error_of(ChildError::Kind::not_found));
    it = found->second;
  }
  co_await stop_child(it);
  if (config_.dynamic || it->spec.restart == temporary) remove(it);
  co_return ChildDone{};
}

Task<ChildResult> SupervisorBehaviour::handle_call(RestartChildReq& r) {
  auto found = by_id_.find(r.id);
  if (found == by_id_.end()) co_return unexpected(error_of(ChildError::Kind::not_found));
  It it = found->second;
  if (it->pid) co_return unexpected(error_of(ChildError::Kind::running));
  if (it->restarting) co_return unexpected(error_of(ChildError::Kind::restarting));
  StartResult started = co_await start(it, false);
  if (!started)
    co_return unexpected(
        ChildError{ChildError::Kind::start_failed, start_failure_reason(started.error()), {}, {}});
  co_return started.value();
}

ChildDone SupervisorBehaviour::handle_call(DeleteChildReq& r) {
  auto found = by_id_.find(r.id);
  if (found == by_id_.end()) return unexpected(error_of(ChildError::Kind::not_found));
  if (found->second->pid) return unexpected(error_of(ChildError::Kind::running));
  if (found->second->restarting) return unexpected(error_of(ChildError::Kind::restarting));
  remove(found->second);
  return ChildDone{};
}

std::vector<ChildInfo> SupervisorBehaviour::handle_call(const WhichChildrenReq&) {
  std::vector<ChildInfo> out;
  out.reserve(children_.size());
  for (const Child& c : children_) out.push_back({c.spec.id, c.pid, c.spec.type, c.restarting});
  return out;
}

ChildCounts SupervisorBehaviour::handle_call(const CountChildrenReq&) {
  ChildCounts n;
  n.specs = children_.size();
  for (const Child& c : children_) {
    if (c.pid) ++n.active;
    ++(c.spec.type == supervisor ? n.supervisors : n.workers);
  }
  return n;
}

}  // namespace troupe::detail
