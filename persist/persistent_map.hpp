#pragma once
// PersistentMap: an actor's own key-value namespace beside its snapshot (like
// the storage of a Durable Object): for data too large or too loose to live
// in the state, read and written when the actor chooses.
//
//   troupe::PersistentMap storage(actors, "rooms/lobby");
//   co_await storage.put(self, "msg/0001", text);
//   auto page = co_await storage.list(self, "msg/");      // keys without the namespace
//   co_await storage.batch(self, {MapOp::put("a", "1"), MapOp::del("b")});  // atomic
//
// Keys are at most PersistenceOptions::max_key_bytes (2 KiB) and values at
// most max_value_bytes (1 MiB); larger ones, and empty keys, are rejected
// with StoreErrc::invalid_argument saying which limit. The store may refuse
// keys below that limit (FileStore: about 250 plain characters per key and
// namespace). Writes here are fenced only when PersistentMapOptions::fence
// is set: then every put, del and batch carries WriteOp::fence (see Fences in
// persist/store.hpp) and fails with StoreErrc::fenced once a newer owner
// raised the fence, writing nothing. (A fenced del reads the key first to
// answer whether it existed: two round trips instead of one.)
//
// Threading: every member is for the body of the process `self` only; one
// instance may be shared by the processes of one actor's incarnations.

#include <optional>
#include <string>
#include <vector>

#include "persist/persistence.hpp"
#include "runtime/export.hpp"

namespace troupe {

// One write of PersistentMap::batch.
struct TROUPE_EXPORT MapOp {
  enum class Kind { put, del };
  Kind kind = Kind::put;
  std::string key;
  std::string value;
  static MapOp put(std::string key, std::string value) {
    return {Kind::put, std::move(key), std::move(value)};
  }
  static MapOp del(std::string key) { return {Kind::del, std::move(key), {}}; }
};

struct TROUPE_EXPORT MapItem {
  std::string key;  // without the actor's namespace
  std::string value;
};

struct TROUPE_EXPORT MapPage {
  std::vector<MapItem> items;
  std::string next_cursor;  // empty on the last page; else pass it as ListOptions::cursor
};

struct TROUPE_EXPORT PersistentMapOptions {
  // The owner's fencing token, carried by every write (see above).
  std::optional<StoreFence> fence;
};

class TROUPE_EXPORT PersistentMap {
 public:
  PersistentMap(Persistence& store, std::string actor, PersistentMapOptions options = {});

  Task<StoreResult<std::optional<std::string>>> get(Process& self, std::string key);
  Task<StoreResult<void>> put(Process& self, std::string key, std::string value);
  // Whether the key existed.
  Task<StoreResult<bool>> del(Process& self, std::string key);
  // Keys starting with prefix, in ascending byte order, a page at a time.
  Task<StoreResult<MapPage>> list(Process& self, std::string prefix, ListOptions options = {});
  // All of ops or none.
  Task<StoreResult<void>> batch(Process& self, std::vector<MapOp> ops);

  const std::string& actor() const { return actor_; }

 private:
  std::optional<StoreError> check(const std::string& key, const std::string* value) const;

  // A batch of the writes, with the fence when there is one.
  Task<StoreResult<void>> write(Process& self, std::vector<WriteOp> writes);

  Persistence& store_;
  std::string actor_;
  std::string prefix_;
  PersistentMapOptions options_;
};

}  // namespace troupe
