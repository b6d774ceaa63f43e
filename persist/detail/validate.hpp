#pragma once
// Argument checks and messages shared by every Store implementation, so that
// all of them reject the same requests with the same words.

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "persist/store.hpp"

namespace troupe::detail {

// key with non-printable bytes escaped and long keys cut, for messages.
std::string printable_key(std::string_view key);

std::optional<StoreError> check_key(std::string_view key);
std::optional<StoreError> check_batch(const std::vector<WriteOp>& ops);
// Also rejects duplicate keys: their outcome would depend on evaluation order.
std::optional<StoreError> check_cas_many(const std::vector<CasWrite>& writes);

// The conflict error of an atomic batch, joining one message per failed op.
StoreError batch_conflict(const std::vector<std::string>& messages);

}  // namespace troupe::detail
