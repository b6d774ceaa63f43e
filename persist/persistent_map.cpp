#include "persist/persistent_map.hpp"

namespace troupe {

PersistentMap::PersistentMap(Persistence& store, std::string actor, PersistentMapOptions options)
    : store_(store),
      actor_(std::move(actor)),
      prefix_(store.storage_prefix(actor_)),
      options_(std::move(options)) {}

Task<StoreResult<void>> PersistentMap::write(Process& self, std::vector<WriteOp> writes) {
  if (options_.fence) writes.push_back(WriteOp::fence(*options_.fence));
  co_return co_await store_.store().batch(self, std::move(writes), store_.options().op_timeout);
}

std::optional<StoreError> PersistentMap::check(const std::string& key,
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

Task<StoreResult<std::optional<std::string>>> PersistentMap::get(Process& self, std::string key) {
  if (auto e = check(key, nullptr)) co_return unexpected(*e);
  auto got = co_await store_.store().get(self, prefix_ + key, store_.options().op_timeout);
  if (!got) co_return unexpected(got.error());
  if (!got.value()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::move(got.value()->value));
}

Task<StoreResult<void>> PersistentMap::put(Process& self, std::string key, std::string value) {
  if (auto e = check(key, &value)) co_return unexpected(*e);
  if (options_.fence) {
    std::vector<WriteOp> writes;
    writes.push_back(WriteOp::put(prefix_ + key, std::move(value)));
    co_return co_await write(self, std::move(writes));
  }
  auto put = co_await store_.store().put(self, prefix_ + key, std::move(value),
                                         store_.options().op_timeout);
  if (!put) co_return unexpected(put.error());
  co_return StoreResult<void>{};
}

Task<StoreResult<bool>> PersistentMap::del(Process& self, std::string key) {
  if (auto e = check(key, nullptr)) co_return unexpected(*e);
  if (options_.fence) {
    auto got = co_await store_.store().get(self, prefix_ + key, store_.options().op_timeout);
    if (!got) co_return unexpected(got.error());
    std::vector<WriteOp> writes;
    writes.push_back(WriteOp::del(prefix_ + key));
    auto written = co_await write(self, std::move(writes));
    if (!written) co_return unexpected(written.error());
    co_return got.value().has_value();
  }
  co_return co_await store_.store().del(self, prefix_ + key, store_.options().op_timeout);
}

Task<StoreResult<MapPage>> PersistentMap::list(Process& self, std::string prefix,
                                               ListOptions options) {
  auto page = co_await store_.store().list(self, prefix_ + prefix, std::move(options),
                                           store_.options().op_timeout);
  if (!page) co_return unexpected(page.error());
  MapPage out;
  out.next_cursor = std::move(page.value().next_cursor);
  for (auto& item : page.value().items)
    out.items.push_back({item.key.substr(prefix_.size()), std::move(item.value)});
  co_return out;
}

Task<StoreResult<void>> PersistentMap::batch(Process& self, std::vector<MapOp> ops) {
  std::vector<WriteOp> writes;
  for (auto& op : ops) {
    if (auto e = check(op.key, op.kind == MapOp::Kind::put ? &op.value : nullptr))
      co_return unexpected(*e);
    writes.push_back(op.kind == MapOp::Kind::put
                         ? WriteOp::put(prefix_ + op.key, std::move(op.value))
                         : WriteOp::del(prefix_ + op.key));
  }
  co_return co_await write(self, std::move(writes));
}

}  // namespace troupe
