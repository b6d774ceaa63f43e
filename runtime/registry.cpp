#include "runtime/registry.hpp"

#include <algorithm>

#include "runtime/detail/relations.hpp"
#include "runtime/detail/state.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

std::string to_string(const RegisterError& e) {
  switch (e.kind) {
    case RegisterError::Kind::taken: return "name taken by " + e.holder.to_string();
    case RegisterError::Kind::noproc: return "noproc";
    case RegisterError::Kind::invalid: return "invalid name";
  }
  return "unknown";
}

Result<void, RegisterError> Registry::register_name(std::string_view name, Pid pid) {
  if (name.empty()) return unexpected(RegisterError{RegisterError::Kind::invalid, {}});
  Shard& shard = shard_of(name);
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto [it, inserted] = shard.names.try_emplace(std::string(name), pid);
    if (!inserted) {
      if (rt_.alive(it->second)) return unexpected(RegisterError{RegisterError::Kind::taken, it->second});
      it->second = pid;  // its holder ended and its release is on the way
    }
  }
  // Insert first, then attach: a holder that dies in between either sees the
  // key and releases it, or makes attach fail and we take it back.
  if (!rt_.attach_key(pid, std::string(name), false)) {
    unregister_name(name, pid);
    return unexpected(RegisterError{RegisterError::Kind::noproc, {}});
  }
  return {};
}

bool Registry::unregister_name(std::string_view name, Pid pid) {
  Shard& shard = shard_of(name);
  Pid holder;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.names.find(name);
    if (it == shard.names.end() || (pid && it->second != pid)) return false;
    holder = it->second;
    shard.names.erase(it);
  }
  rt_.detach_key(holder, name, false);
  return true;
}

Pid Registry::whereis(std::string_view name) const {
  Shard& shard = shard_of(name);
  Pid pid;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.names.find(name);
    if (it == shard.names.end()) return {};
    pid = it->second;
  }
  return rt_.alive(pid) ? pid : Pid{};
}

std::vector<std::pair<std::string, Pid>> Registry::list(std::string_view prefix) const {
  std::vector<std::pair<std::string, Pid>> out;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (auto& [name, pid] : shard.names)
      if (name.starts_with(prefix) && rt_.alive(pid)) out.emplace_back(name, pid);
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
    Shard& shard = shard_of(name);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.names.find(name);
    if (it != shard.names.end() && it->second == pid) shard.names.erase(it);
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
  bool alive = detail::gen_of(word) == pid.generation() && detail::state_of(word) != detail::st_dead;
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
