#pragma once
// An open-addressing hash table from name to Pid, for one registry shard.
// Short names (up to 15 bytes) live inline in their slot, so a lookup is
// usually one cache miss, where a node-based map costs two or three.
// Not thread-safe: the shard's mutex guards it. Internal.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/pid.hpp"

namespace troupe::detail {

class NameTable {
 public:
  // The slot holding `name` (whose hash is `hash`), or nullptr.
  const Pid* find(std::string_view name, std::uint64_t hash) const;
  // Inserts name → pid; if the name is present, leaves it and returns its
  // slot's pid with inserted = false.
  std::pair<Pid*, bool> insert(std::string_view name, std::uint64_t hash, Pid pid);
  bool erase(std::string_view name, std::uint64_t hash);
  std::size_t size() const { return size_; }

  template <class F>
  void for_each(F f) const {
    for (const Slot& s : slots_)
      if (s.state == full) f(std::string_view(s.key), s.pid);
  }

 private:
  enum State : std::uint8_t { empty, full, erased };
  struct Slot {
    std::uint64_t hash = 0;
    Pid pid;
    State state = empty;
    std::string key;
  };

  std::size_t probe_for(std::string_view name, std::uint64_t hash) const;
  void grow();

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::size_t used_ = 0;  // full + erased: what probing has to walk past
};

}  // namespace troupe::detail
