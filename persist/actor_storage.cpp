#include "persist/actor_storage.hpp"

namespace troupe {

ActorStorage::ActorStorage(ActorStore& store, std::string actor)
    : store_(store), actor_(std::move(actor)), prefix_(store.storage_prefix(actor_)) {}

std::optional<StoreError> ActorStorage::check(const std::string& key,
                                              const std::string* value) const {
  const auto& o = store_.options();
  auto where = " in the storage of actor '" + actor_ + "'";
  if (key.empty()) return StoreError{StoreErrc::invalid_argument, "empty key" + where};
  if (key.size() > o.max_key_bytes)
    return StoreError{StoreErrc::invalid_argument, "key of " + std::to_string(key.size()) +
                                                       " bytes" + where + " exceeds the limit of " +
                                                       std::to_string(o.max_key_bytes) + " bytes"};
  if (value && value->size() > o.max_value_bytes)
    return StoreError{StoreErrc::invalid_argument,
                      "value of " + std::to_string(value->size()) + " bytes for key '" +
                          key.substr(0, 100) + "'" + where + " exceeds the limit of " +
                          std::to_string(o.max_value_bytes) + " bytes"};
  return std::nullopt;
}

Task<StoreResult<std::optional<std::string>>> ActorStorage::get(Process& self, std::string key) {
  if (auto e = check(key, nullptr)) co_return failure(*e);
  auto got = co_await store_.client().get(self, prefix_ + key, store_.options().op_timeout);
  if (!got) co_return failure(got.error());
  if (!got.value()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::move(got.value()->value));
}

Task<StoreResult<void>> ActorStorage::put(Process& self, std::string key, std::string value) {
  if (auto e = check(key, &value)) co_return failure(*e);
  auto put = co_await store_.client().put(self, prefix_ + key, std::move(value),
                                          store_.options().op_timeout);
  if (!put) co_return failure(put.error());
  co_return StoreResult<void>{};
}

Task<StoreResult<bool>> ActorStorage::del(Process& self, std::string key) {
  if (auto e = check(key, nullptr)) co_return failure(*e);
  co_return co_await store_.client().del(self, prefix_ + key, store_.options().op_timeout);
}

Task<StoreResult<StoragePage>> ActorStorage::list(Process& self, std::string prefix,
                                                  ListOptions options) {
  auto page = co_await store_.client().list(self, prefix_ + prefix, std::move(options),
                                            store_.options().op_timeout);
  if (!page) co_return failure(page.error());
  StoragePage out;
  out.next_cursor = std::move(page.value().next_cursor);
  for (auto& item : page.value().items)
    out.items.push_back({item.key.substr(prefix_.size()), std::move(item.value)});
  co_return out;
}

Task<StoreResult<void>> ActorStorage::batch(Process& self, std::vector<StorageOp> ops) {
  std::vector<WriteOp> writes;
  for (auto& op : ops) {
    if (auto e = check(op.key, op.kind == StorageOp::Kind::put ? &op.value : nullptr))
      co_return failure(*e);
    writes.push_back(op.kind == StorageOp::Kind::put
                         ? WriteOp::put(prefix_ + op.key, std::move(op.value))
                         : WriteOp::del(prefix_ + op.key));
  }
  co_return co_await store_.client().batch(self, std::move(writes), store_.options().op_timeout);
}

}  // namespace troupe
