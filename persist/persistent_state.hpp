#pragma once
// PersistentState<T>: an actor's state kept as a snapshot in a store, so a
// restarted actor resumes where the last commit left it.
//
//   PersistentState<Counter> state(store, "counters/" + name);
//   if (auto r = co_await state.load(self); !r)
//   self.exit(ExitReason::error(r.error().to_string())); state.value().n += 1; if (auto r =
//   co_await state.commit(self); !r) ...   // durable now: acknowledge
//
// T needs a msgpack adaptor (MSGPACK_DEFINE). Snapshots use the versioned
// envelope of snapshot_codec.hpp (magic, format, schema version, revision,
// CRC32C). Every commit writes revision + 1 with compare-and-set, so an
// incarnation that is no longer the newest (a zombie after a restart, or
// one that lost its name) cannot overwrite newer state: its commit fails
// with StoreErrc::conflict, and it should exit (commit_or_exit does).
//
// Only the owning process uses an instance, from its own body.

#include <cstdint>
#include <string>
#include <utility>

#include "persist/snapshot_codec.hpp"
#include "persist/store_client.hpp"
#include "runtime/process.hpp"

namespace troupe {

template <class T>
class PersistentState {
 public:
  PersistentState(StoreClient& store, std::string key, std::uint32_t schema_version = 1)
      : store_(store), key_(std::move(key)), schema_(schema_version) {}

  // Loads the stored snapshot, or keeps `initial` (revision 0) when there is
  // none. Fails with the store's error, or StoreErrc::corrupt naming the key
  // and the cause (bad magic, checksum, a newer schema, not a T).
  Task<StoreResult<void>> load(Process& self, T initial = T{}) {
    value_ = std::move(initial);
    revision_ = 0;
    auto entry = co_await store_.get(self, key_);
    if (!entry) co_return failure(entry.error());
    if (!entry.value()) co_return StoreResult<void>{};
    auto snapshot = decode_snapshot(entry.value()->value);
    if (!snapshot) co_return corrupt(snapshot.error());
    if (auto schema = check_schema(snapshot.value(), schema_); !schema)
      co_return corrupt(schema.error());
    auto decoded = decode<T>(snapshot.value().payload);
    if (!decoded) co_return corrupt(decoded.error());
    value_ = std::move(decoded.value());
    revision_ = entry.value()->revision;
    co_return StoreResult<void>{};
  }

  T& value() { return value_; }
  const T& value() const { return value_; }
  Revision revision() const { return revision_; }
  const std::string& key() const { return key_; }

  // Writes the state as revision + 1; when this returns ok the state is
  // durable (as durable as the store makes it).
  Task<StoreResult<void>> commit(Process& self) {
    Revision next = revision_ + 1;
    auto written =
        co_await store_.compare_and_put(self, key_, encode_state(value_, schema_, next), next);
    if (written) revision_ = next;
    co_return written;
  }

  // commit, and exit with a reason naming the key if it fails (a conflict
  // means a newer incarnation owns the state: let the supervisor know).
  Task<> commit_or_exit(Process& self) {
    auto written = co_await commit(self);
    if (!written)
      self.exit(ExitReason::error("cannot persist " + key_ + ": " + written.error().to_string()));
  }

 private:
  StoreResult<void> corrupt(const CodecError& e) const {
    return failure(StoreError{StoreErrc::corrupt, "snapshot " + key_ + ": " + e.to_string()});
  }

  StoreClient& store_;
  std::string key_;
  std::uint32_t schema_;
  T value_{};
  Revision revision_ = 0;
};

}  // namespace troupe
