#include "runtime/detail/name_table.hpp"

namespace troupe::detail {

namespace {
constexpr std::size_t npos = static_cast<std::size_t>(-1);
}

std::size_t NameTable::probe_for(std::string_view name, std::uint64_t hash) const {
  if (slots_.empty()) return npos;
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.state == empty) return npos;
    if (s.state == full && s.hash == hash && s.key == name) return i;
  }
}

const Pid* NameTable::find(std::string_view name, std::uint64_t hash) const {
  std::size_t i = probe_for(name, hash);
  return i == npos ? nullptr : &slots_[i].pid;
}

std::pair<Pid*, bool> NameTable::insert(std::string_view name, std::uint64_t hash, Pid pid) {
  if (std::size_t i = probe_for(name, hash); i != npos) return {&slots_[i].pid, false};
  if ((used_ + 1) * 2 > slots_.size()) grow();  // load under 1/2: short probe runs
  std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i].state == full) i = (i + 1) & mask;
  Slot& s = slots_[i];
  if (s.state == empty) ++used_;
  s.hash = hash;
  s.pid = pid;
  s.state = full;
  s.key.assign(name);
  ++size_;
  return {&s.pid, true};
}

bool NameTable::erase(std::string_view name, std::uint64_t hash) {
  std::size_t i = probe_for(name, hash);
  if (i == npos) return false;
  slots_[i].state = erased;  // a tombstone keeps later probes going
  slots_[i].key.clear();
  --size_;
  return true;
}

void NameTable::grow() {
  // Doubles when mostly full of names; only rehashes when mostly tombstones.
  std::size_t capacity = slots_.empty() ? 16 : slots_.size();
  if (size_ * 4 >= capacity) capacity *= 2;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.resize(capacity);
  used_ = size_ = 0;
  std::size_t mask = capacity - 1;
  for (Slot& s : old) {
    if (s.state != full) continue;
    std::size_t i = s.hash & mask;
    while (slots_[i].state == full) i = (i + 1) & mask;
    slots_[i] = std::move(s);
    ++used_;
    ++size_;
  }
}

}  // namespace troupe::detail
