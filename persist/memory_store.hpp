#pragma once
// MemoryStore: a Store held in a std::map, for unit tests of logic that sits
// on top of a store. Nothing survives the object. It follows the Store
// contract exactly (callbacks on a later loop turn, same errors), so logic
// tested against it behaves the same on FileStore and RedisStore.

#include <uv.h>

#include <map>

#include "persist/detail/deferred.hpp"
#include "persist/store.hpp"
#include "runtime/export.hpp"

namespace troupe {

class TROUPE_EXPORT MemoryStore final : public Store {
 public:
  explicit MemoryStore(uv_loop_t* loop);

  void get(std::string key, StoreCallback<std::optional<Entry>> done) override;
  void put(std::string key, std::string value, StoreCallback<Revision> done) override;
  void del(std::string key, StoreCallback<bool> done) override;
  void list(std::string prefix, ListOptions options, StoreCallback<Page> done) override;
  void batch(std::vector<WriteOp> ops, StoreCallback<void> done) override;
  void compare_and_put(std::string key, std::string value, Revision revision,
                       StoreCallback<void> done) override;
  void compare_and_put_many(std::vector<CasWrite> writes,
                            StoreCallback<std::vector<CasOutcome>> done) override;
  void close(std::function<void()> done) override;

  // Number of keys held; loop thread only, for tests.
  std::size_t size() const { return data_.size(); }

 private:
  template <class T>
  void reply(StoreCallback<T> done, StoreResult<T> result);
  void ensure_open() const;
  Revision revision_of(const std::string& key) const;

  std::map<std::string, Entry> data_;
  detail::Deferred deferred_;
};

}  // namespace troupe
