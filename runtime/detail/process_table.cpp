#include "runtime/detail/process_table.hpp"

#include <stdexcept>

#include "runtime/process.hpp"

namespace troupe::detail {

ProcessTable::ProcessTable() {
  for (auto& s : segments_) s.store(nullptr, std::memory_order_relaxed);
}

ProcessTable::~ProcessTable() {
  for (auto& s : segments_) {
    Process* segment = s.load(std::memory_order_acquire);
    if (!segment) continue;
    for (std::uint32_t i = 0; i < segment_size; ++i) {
      Process& p = segment[i];
      // Messages pushed after their process ended wait here until the slot
      // is reused; free them now.
      MessageNode* n = p.inbox_.exchange(nullptr);
      while (n) {
        MessageNode* next = n->next;
        n->dispose();
        n = next;
      }
    }
    delete[] segment;
  }
}

Process* ProcessTable::claim_fresh() {
  std::uint32_t slot = next_.fetch_add(1, std::memory_order_acq_rel);
  std::uint32_t seg = slot >> segment_bits;
  if (seg >= max_segments) throw std::length_error("troupe: process table is full");
  if (!segments_[seg].load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(grow_);
    if (!segments_[seg].load(std::memory_order_relaxed)) {
      Process* segment = new Process[segment_size];
      for (std::uint32_t i = 0; i < segment_size; ++i) segment[i].slot_ = (seg << segment_bits) | i;
      segments_[seg].store(segment, std::memory_order_release);
    }
  }
  return get(slot);
}

}  // namespace troupe::detail
