#pragma once
// The meaning of an atomic batch, shared by the stores that evaluate it
// themselves (MemoryStore, FileStore; RedisStore's Lua script mirrors it).
// Conditions are checked against the state as it evolves through the batch,
// so a batch may touch one key twice; the batch applies only if all hold.

#include <map>
#include <string>
#include <vector>

#include "persist/store.hpp"

namespace troupe::detail {

// For each op, the revision the key has after it (0 after a del).
using BatchPlan = std::vector<Revision>;

// stored: every key's revision before the batch (absent keys may be missing).
StoreResult<BatchPlan> plan_batch(const std::vector<WriteOp>& ops,
                                  const std::map<std::string, Revision>& stored);

}  // namespace troupe::detail
