#include "persist/detail/batch_plan.hpp"

#include <charconv>
#include <stdexcept>

#include "persist/detail/validate.hpp"

namespace troupe::detail {

std::optional<std::uint64_t> parse_fence_token(std::string_view text) {
  std::uint64_t token = 0;
  const char* end = text.data() + text.size();
  auto [at, ec] = std::from_chars(text.data(), end, token);
  if (text.empty() || text[0] == '-' || ec != std::errc{} || at != end) return std::nullopt;
  return token;
}

StoreError corrupt_fence(const std::string& key, std::string_view value) {
  constexpr std::size_t shown = 40;  // the start is enough to recognise it
  std::string text = "fence key '" + printable_key(key) + "' holds '" +
                     printable_key(value.substr(0, shown)) + (value.size() > shown ? "..." : "") +
                     "', not a fencing token (the decimal text of a u64)";
  return {StoreErrc::corrupt, std::move(text)};
}

StoreResult<std::vector<WriteOp>> resolve_fences(std::vector<WriteOp> ops,
                                                 const std::map<std::string, std::string>& values) {
  std::vector<WriteOp> out;
  out.reserve(ops.size());
  for (auto& op : ops) {
    if (op.kind != WriteOp::Kind::fence) {
      out.push_back(std::move(op));
      continue;
    }
    std::uint64_t stored = 0;
    if (auto it = values.find(op.key); it != values.end()) {
      auto parsed = parse_fence_token(it->second);
      if (!parsed) return unexpected(corrupt_fence(op.key, it->second));
      stored = *parsed;
    }
    if (stored > op.token) return unexpected(fenced_error(op.key, stored, op.token));
    if (stored < op.token) out.push_back(WriteOp::put(op.key, std::to_string(op.token)));
  }
  return out;
}

StoreResult<BatchPlan> plan_batch(const std::vector<WriteOp>& ops,
                                  const std::map<std::string, Revision>& stored) {
  std::map<std::string, Revision> current = stored;
  BatchPlan plan;
  plan.reserve(ops.size());
  std::vector<std::string> conflicts;
  for (const auto& op : ops) {
    if (op.kind == WriteOp::Kind::fence)
      throw std::logic_error("plan_batch: resolve the batch's fences first");
    Revision& rev = current[op.key];
    if (op.kind == WriteOp::Kind::del) {
      rev = 0;
    } else if (op.revision && *op.revision != rev + 1) {
      conflicts.push_back(conflict_message(op.key, *op.revision, rev));
    } else {
      ++rev;
    }
    plan.push_back(rev);
  }
  if (!conflicts.empty()) return unexpected(batch_conflict(conflicts));
  return plan;
}

}  // namespace troupe::detail
