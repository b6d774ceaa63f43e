#pragma once
// Per-thread free lists for the small, short-lived blocks the runtime churns
// through (messages, coroutine frames). A block may be freed on any thread:
// it then joins that thread's list. Lists are capped so memory returns to
// malloc after a burst. Under sanitizers the pool is bypassed so they see
// every allocation.

#include <cstddef>

#include "runtime/export.hpp"

namespace troupe::detail {

TROUPE_EXPORT void* pool_alloc(std::size_t size);
TROUPE_EXPORT void pool_free(void* block, std::size_t size) noexcept;

}  // namespace troupe::detail
