#pragma once
// The meaning of an atomic batch, shared by the stores that evaluate it
// themselves (MemoryStore, FileStore; RedisStore's Lua script mirrors it).
// Conditions are checked against the state as it evolves through the batch,
// so a batch may touch one key twice; the batch applies only if all hold.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/store.hpp"

namespace troupe::detail {

// The token a fence key holds: 0 when absent; nullopt when the value is not
// the decimal text of a u64 (one or more ASCII digits, at most 2^64 - 1).
std::optional<std::uint64_t> parse_fence_token(std::string_view text);

// The corrupt error of a fence key whose value is not a token.
StoreError corrupt_fence(const std::string& key, std::string_view value);

// Decides the batch's fence ops against the stored values of their keys
// (absent keys may be missing from `values`): the error of the first fence
// op, in batch order, that refuses (corrupt, fenced); otherwise the ops to
// apply, where a fence op became a plain put of its token if it raises the
// key and was dropped if not. Call check_batch first (fence keys unique).
StoreResult<std::vector<WriteOp>> resolve_fences(std::vector<WriteOp> ops,
                                                 const std::map<std::string, std::string>& values);

// For each op, the revision the key has after it (0 after a del).
using BatchPlan = std::vector<Revision>;

// ops: puts and dels only (resolve fences first).
// stored: every key's revision before the batch (absent keys may be missing).
StoreResult<BatchPlan> plan_batch(const std::vector<WriteOp>& ops,
                                  const std::map<std::string, Revision>& stored);

}  // namespace troupe::detail
