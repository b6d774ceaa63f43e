#include "persist/detail/batch_plan.hpp"

#include "persist/detail/validate.hpp"

namespace troupe::detail {

StoreResult<BatchPlan> plan_batch(const std::vector<WriteOp>& ops,
                                  const std::map<std::string, Revision>& stored) {
  std::map<std::string, Revision> current = stored;
  BatchPlan plan;
  plan.reserve(ops.size());
  std::vector<std::string> conflicts;
  for (const auto& op : ops) {
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
