#include "runtime/registry.hpp"

#include <algorithm>

#include "runtime/detail/relations.hpp"
#include "runtime/detail/state.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

const char* to_string(RegisterError::Kind kind) {
  switch (kind) {
    case RegisterError::Kind::taken:
      return "taken";
    case RegisterError::Kind::noproc:
      return "noproc";
    case RegisterError::Kind::invalid:
      return "invalid";
  }
  return "unknown";
}

std::string to_string(const RegisterError& e) {
  switch (e.kind) {
    case RegisterError::Kind::taken:
      return "name taken by " + e.holder.to_string();
    case RegisterError::Kind::noproc:
      return "noproc";
    case RegisterError::Kind::invalid:
      return "invalid name";
  }
  return "unknown";
}

Result<void, RegisterError> Registry::register_name(std::string_view name, Pid pid) {
  if (name.empty()) return unexpected(RegisterError{RegisterError::Kind::invalid, {}});
  const std::uint64_t hash = hash_of(name);
  Shard& shard = shard_of(hash);
  bool waiters_possible;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto [holder, inserted] = shard.names.insert(name, hash, pid);
    if (!inserted) {
      if (*holder == pid && rt_.alive(pid)) return {};
      if (rt_.alive(*holder)) return unexpected(RegisterError{RegisterError::Kind::taken, *holder});
      *holder = pid;  // its holder ended and its release is on the way
    }
    waiters_possible = !shard.pending.empty();
  }
  // Insert first, then attach: a holder that dies in between either sees the
  // key and releases it, or makes attach fail and we take it back.
  if (!rt_.attach_key(pid, std::string(name), false)) {
    unregister_name(name, pid);
    return unexpected(RegisterError{RegisterError::Kind::noproc, {}});
  }
  if (!waiters_possible) return {};
  std::vector<ReplyTo> waiters;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.pending.find(name);
    if (it != shard.pending.end()) {
      waiters.swap(it->second.waiters);
      if (!it->second.starting) shard.pending.erase(it);
    }
  }
  notify(std::move(waiters), Lookup(pid));
  return {};
}

void Registry::notify(std::vector<ReplyTo> waiters, const Lookup& outcome) {
  for (const ReplyTo& w : waiters) rt_.reply(w, outcome);
}

Task<Registry::Lookup> Registry::await_outcome(Process& self, std::string name, Ref ref,
                                               Duration timeout) {
  self.begin_call(ref);
  auto got = co_await self.receive(detail::ReplyClause<Lookup>{ref.id}, after(timeout, [] {
                                     return CallResult<Lookup>(unexpected(CallError{}));
                                   }));
  self.end_call(ref);
  if (got.ok()) co_return std::move(got.value());
  // Timed out: stop waiting, unless the name arrived in between.
  Shard& shard = shard_of(name);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.pending.find(name);
    if (it != shard.pending.end()) {
      std::erase_if(it->second.waiters, [&](const ReplyTo& w) { return w.ref == ref; });
      if (!it->second.starting && it->second.waiters.empty()) shard.pending.erase(it);
    }
  }
  if (Pid pid = whereis(name)) co_return pid;
  co_return unexpected(ExitReason::error("timeout waiting for name " + name));
}

Task<Registry::Lookup> Registry::wait_for(Process& self, std::string name, Duration timeout) {
  Ref ref = self.make_ref();
  const std::uint64_t hash = hash_of(name);
  Shard& shard = shard_of(hash);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    const Pid* found = shard.names.find(name, hash);
    if (found && rt_.alive(*found)) co_return *found;
    shard.pending[name].waiters.push_back({self.self(), ref});
  }
  co_return co_await await_outcome(self, std::move(name), ref, timeout);
}

Task<Registry::Lookup> Registry::lookup_or_start(Process& self, std::string name, StartFn start,
                                                 Duration timeout) {
  Ref ref = self.make_ref();
  const std::uint64_t hash = hash_of(name);
  Shard& shard = shard_of(hash);
  bool starter = false;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    const Pid* found = shard.names.find(name, hash);
    if (found && rt_.alive(*found)) co_return *found;
    Pending& pending = shard.pending[name];
    if (!pending.starting)
      pending.starting = starter = true;
    else
      pending.waiters.push_back({self.self(), ref});
  }
  if (!starter) co_return co_await await_outcome(self, std::move(name), ref, timeout);

  Lookup outcome = unexpected(ExitReason::error("start of " + name + " failed"));
  try {
    outcome = co_await start(self);
  } catch (...) {
    outcome = unexpected(detail::reason_from_exception(std::current_exception()));
  }
  if (outcome.ok()) {
    auto registered = register_name(name, outcome.value());
    if (!registered.ok()) {
      // Someone registered the name directly meanwhile: theirs stands.
      if (registered.error().kind == RegisterError::Kind::taken)
        outcome = registered.error().holder;
      else
        outcome = unexpected(ExitReason(ExitReason::Kind::noproc, "started process of " + name));
    }
  }
  std::vector<ReplyTo> waiters;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.pending.find(name);
    if (it != shard.pending.end()) {
      waiters.swap(it->second.waiters);
      shard.pending.erase(it);
    }
  }
  notify(std::move(waiters), outcome);
  co_return outcome;
}

bool Registry::unregister_name(std::string_view name, Pid pid) {
  const std::uint64_t hash = hash_of(name);
  Shard& shard = shard_of(hash);
  Pid holder;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    const Pid* found = shard.names.find(name, hash);
    if (!found || (pid && *found != pid)) return false;
    holder = *found;
    shard.names.erase(name, hash);
  }
  rt_.detach_key(holder, name, false);
  return true;
}

// No liveness check: a process's names are released as part of processing
// its exit, before any link or monitor hears of it.
Pid Registry::whereis(std::string_view name) const {
  const std::uint64_t hash = hash_of(name);
  Shard& shard = shard_of(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  const Pid* found = shard.names.find(name, hash);
  return found ? *found : Pid{};
}

std::vector<std::pair<std::string, Pid>> Registry::list(std::string_view prefix) const {
  std::vector<std::pair<std::string, Pid>> out;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    shard.names.for_each([&](std::string_view name, Pid pid) {
      if (name.starts_with(prefix) && rt_.alive(pid)) out.emplace_back(std::string(name), pid);
    });
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t Registry::size() const {
  std::size_t n = 0;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    n += shard.names.size();
  }
  return n;
}

void Registry::join(std::string_view topic, Pid pid) {
  Shard& shard = shard_of(topic);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto& members = shard.topics[std::string(topic)];
    if (std::find(members.begin(), members.end(), pid) != members.end()) return;
    members.push_back(pid);
  }
  if (!rt_.attach_key(pid, std::string(topic), true)) leave(topic, pid);
}

void Registry::leave(std::string_view topic, Pid pid) {
  Shard& shard = shard_of(topic);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.topics.find(topic);
    if (it == shard.topics.end()) return;
    std::erase(it->second, pid);
    if (it->second.empty()) shard.topics.erase(it);
  }
  rt_.detach_key(pid, topic, true);
}

std::vector<Pid> Registry::members(std::string_view topic) const {
  Shard& shard = shard_of(topic);
  std::vector<Pid> out;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.topics.find(topic);
    if (it != shard.topics.end()) out = it->second;
  }
  std::erase_if(out, [&](Pid p) { return !rt_.alive(p); });
  return out;
}

void Registry::release(Pid pid, const std::vector<std::string>& names,
                       const std::vector<std::string>& topics) {
  for (const auto& name : names) {
    const std::uint64_t hash = hash_of(name);
    Shard& shard = shard_of(hash);
    std::lock_guard<std::mutex> lock(shard.mutex);
    const Pid* found = shard.names.find(name, hash);
    if (found && *found == pid) shard.names.erase(name, hash);
  }
  for (const auto& topic : topics) {
    Shard& shard = shard_of(topic);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.topics.find(topic);
    if (it == shard.topics.end()) continue;
    std::erase(it->second, pid);
    if (it->second.empty()) shard.topics.erase(it);
  }
}

// --- the runtime's side: keys recorded on the process ----------------------------

bool Runtime::attach_key(Pid pid, const std::string& key, bool topic) {
  Process* p = table_.get(pid.slot());
  if (!p) return false;
  p->lock();
  std::uint64_t word = p->state_.load(std::memory_order_acquire);
  bool alive =
      detail::gen_of(word) == pid.generation() && detail::state_of(word) != detail::st_dead;
  if (alive) {
    auto& shared = p->shared_relations();
    (topic ? shared.topics : shared.names).push_back(key);
  }
  p->unlock();
  return alive;
}

void Runtime::detach_key(Pid pid, std::string_view key, bool topic) {
  Process* p = table_.get(pid.slot());
  if (!p) return;
  p->lock();
  std::uint64_t word = p->state_.load(std::memory_order_acquire);
  if (p->shared_ && detail::gen_of(word) == pid.generation()) {
    auto& keys = topic ? p->shared_->topics : p->shared_->names;
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it != keys.end()) keys.erase(it);
  }
  p->unlock();
}

}  // namespace troupe
