#include "runtime/detail/pool.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_POOL_BYPASS 1
#endif

namespace troupe::detail {

namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t max_pooled = 512;
constexpr std::size_t classes = max_pooled / granule;
constexpr std::size_t cap_per_class = 4096;
constexpr std::size_t batch = 1024;             // blocks moved between threads at once
constexpr std::size_t max_shared_batches = 64;  // per class, then back to malloc

struct FreeBlock {
  FreeBlock* next;
};

// Producer/consumer pairs on different threads (a sender allocates, the
// receiver frees) would otherwise malloc on one side and free on the
// other; whole batches of blocks travel between them here instead.
struct SharedBatches {
  std::mutex mutex;
  std::vector<FreeBlock*> batches[classes];

  bool put(std::size_t c, FreeBlock* head) {
    std::lock_guard<std::mutex> lock(mutex);
    if (batches[c].size() >= max_shared_batches) return false;
    batches[c].push_back(head);
    return true;
  }
  FreeBlock* take(std::size_t c) {
    std::lock_guard<std::mutex> lock(mutex);
    if (batches[c].empty()) return nullptr;
    FreeBlock* head = batches[c].back();
    batches[c].pop_back();
    return head;
  }
  ~SharedBatches() {
    for (auto& list : batches)
      for (FreeBlock* b : list)
        while (b) {
          FreeBlock* next = b->next;
          std::free(b);
          b = next;
        }
  }
};

[[maybe_unused]] SharedBatches shared_batches;

struct ThreadPool {
  FreeBlock* heads[classes] = {};
  std::size_t counts[classes] = {};

  ~ThreadPool() {
    for (auto& head : heads) {
      while (head) {
        FreeBlock* next = head->next;
        std::free(head);
        head = next;
      }
    }
  }
};

[[maybe_unused]] thread_local ThreadPool local_pool;

[[maybe_unused]] std::size_t class_of(std::size_t size) {
  return (size + granule - 1) / granule - 1;
}

void* checked_malloc(std::size_t size) {
  void* p = std::malloc(size);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* pool_alloc(std::size_t size) {
#ifndef TROUPE_POOL_BYPASS
  if (size > 0 && size <= max_pooled) {
    std::size_t c = class_of(size);
    ThreadPool& pool = local_pool;
    if (!pool.heads[c]) {
      if (FreeBlock* refill = shared_batches.take(c)) {
        pool.heads[c] = refill;
        pool.counts[c] = batch;
      }
    }
    if (FreeBlock* block = pool.heads[c]) {
      pool.heads[c] = block->next;
      --pool.counts[c];
      return block;
    }
    return checked_malloc((c + 1) * granule);
  }
#endif
  return checked_malloc(size);
}

void pool_free(void* block, std::size_t size) noexcept {
#ifndef TROUPE_POOL_BYPASS
  if (size > 0 && size <= max_pooled) {
    std::size_t c = class_of(size);
    ThreadPool& pool = local_pool;
    auto* free_block = static_cast<FreeBlock*>(block);
    if (pool.counts[c] >= cap_per_class) {
      // Hand a batch from the top of this list to other threads, or back to
      // malloc when they hold enough already.
      FreeBlock* head = pool.heads[c];
      FreeBlock* last = head;
      for (std::size_t i = 1; i < batch; ++i) last = last->next;
      pool.heads[c] = last->next;
      pool.counts[c] -= batch;
      last->next = nullptr;
      if (!shared_batches.put(c, head)) {
        while (head) {
          FreeBlock* next = head->next;
          std::free(head);
          head = next;
        }
      }
    }
    free_block->next = pool.heads[c];
    pool.heads[c] = free_block;
    ++pool.counts[c];
    return;
  }
#else
  (void)size;
#endif
  std::free(block);
}

}  // namespace troupe::detail
