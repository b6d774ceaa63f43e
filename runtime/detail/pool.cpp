#include "runtime/detail/pool.hpp"

#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_POOL_BYPASS 1
#endif

namespace troupe::detail {

namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t max_pooled = 512;
constexpr std::size_t classes = max_pooled / granule;
constexpr std::size_t cap_per_class = 4096;

struct FreeBlock {
  FreeBlock* next;
};

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

[[maybe_unused]] std::size_t class_of(std::size_t size) { return (size + granule - 1) / granule - 1; }

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
    if (pool.counts[c] < cap_per_class) {
      auto* free_block = static_cast<FreeBlock*>(block);
      free_block->next = pool.heads[c];
      pool.heads[c] = free_block;
      ++pool.counts[c];
      return;
    }
  }
#else
  (void)size;
#endif
  std::free(block);
}

}  // namespace troupe::detail
