#pragma once
// The table of process control blocks, indexed by Pid slot. Internal.
//
// Control blocks are type-stable: once allocated they are never freed
// before the runtime is, only reused for a later incarnation with a new
// generation. So any thread can look up a slot and push a message without
// holding a lock; the state word's generation decides whether it counts.

#include <atomic>
#include <cstdint>
#include <mutex>

#include "runtime/process.hpp"

namespace troupe::detail {

class ProcessTable {
 public:
  static constexpr std::uint32_t segment_bits = 12;
  static constexpr std::uint32_t segment_size = 1u << segment_bits;
  static constexpr std::uint32_t max_segments = 1u << 12;  // 16M processes

  ProcessTable();
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  Process* get(std::uint32_t slot) const {
    Process* segment = segments_[slot >> segment_bits].load(std::memory_order_acquire);
    return segment ? segment + (slot & (segment_size - 1)) : nullptr;
  }
  // A never-used control block; any thread. Throws when the table is full.
  Process* claim_fresh();
  // Slots handed out so far (used or free).
  std::uint32_t size() const { return next_.load(std::memory_order_acquire); }

 private:
  std::atomic<Process*> segments_[max_segments];
  std::atomic<std::uint32_t> next_{0};
  std::mutex grow_;
};

}  // namespace troupe::detail
