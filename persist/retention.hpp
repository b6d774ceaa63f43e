#pragma once
// Erasing an actor's state, and counting what a Persistence holds: the
// persist half of retention (Gateway's retention option, docs/persist.md).
//
//   auto erased = co_await troupe::erase_actor(self, actors, "rooms/lobby");
//   auto totals = co_await troupe::count_stored(self, actors);
//
// Both page through the store with Store::list (ListOptions::limit keys per
// operation), so each step is one bounded store operation and a process
// awaiting them never holds up its scheduler. Writes that complete while a
// listing is paged through may or may not be counted (Store::list).
//
// Threading: for a process (co_await from the process passed as `self`);
// any scheduler. The Persistence outlives the call.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/persistence.hpp"
#include "runtime/export.hpp"

namespace troupe {

// Deletes every key of `actor` (Persistence::actor_prefix: its head, its
// generations, its quarantined snapshots, its PersistentMap): the head first,
// so that an interrupted erase leaves an actor that starts from its initial
// state rather than from a half-deleted snapshot; the rest in one batch of
// deletes per page. Yields the number of keys deleted. The caller makes sure
// no incarnation of `actor` runs meanwhile: one that does may write again
// after the erase, or find its head gone (its next write is fenced).
TROUPE_EXPORT Task<StoreResult<std::size_t>> erase_actor(Process& self, const Persistence& actors,
                                                         std::string_view actor,
                                                         std::size_t page_size = 100);

// Keys and bytes (key plus value) under a Persistence's key_prefix.
struct TROUPE_EXPORT StoredTotals {
  std::uint64_t keys = 0;
  std::uint64_t bytes = 0;
};

// A census of a Persistence's keys, one page per step, for a caller that
// looks at each key as it goes (the gateway's sweeper finds heads in it).
class TROUPE_EXPORT ActorCensus {
 public:
  explicit ActorCensus(const Persistence& actors, std::size_t page_size = 100);

  // Reads the next page into items(), adding it to totals(); false when the
  // previous step read the last page (items() is then empty).
  Task<StoreResult<bool>> next(Process& self);
  const std::vector<Item>& items() const { return items_; }
  StoredTotals totals() const { return totals_; }

 private:
  const Persistence& actors_;
  std::size_t page_size_;
  std::string cursor_;
  bool done_ = false;
  std::vector<Item> items_;
  StoredTotals totals_;
};

// The whole census at once.
TROUPE_EXPORT Task<StoreResult<StoredTotals>> count_stored(Process& self,
                                                           const Persistence& actors);

// The actor whose head `key` is ("rooms/lobby" for "actor/rooms%2Flobby/head"
// under key_prefix "actor/"), or nullopt if `key` is not a head key of this
// Persistence's layout. Pure; any thread.
TROUPE_EXPORT std::optional<std::string> head_actor(const Persistence& actors,
                                                    std::string_view key);

}  // namespace troupe
