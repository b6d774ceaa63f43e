#include "persist/retention.hpp"

#include <algorithm>

namespace troupe {

Task<StoreResult<std::size_t>> erase_actor(Process& self, const Persistence& actors,
                                           std::string_view actor, std::size_t page_size) {
  AwaitableStore& client = actors.store();
  const std::string prefix = actors.actor_prefix(actor);
  std::size_t erased = 0;
  auto head = co_await client.del(self, actors.head_key(actor));
  if (!head) co_return unexpected(head.error());
  if (head.value()) ++erased;
  ListOptions page{.cursor = {}, .limit = std::max<std::size_t>(page_size, 1)};
  do {
    auto listed = co_await client.list(self, prefix, page);
    if (!listed) co_return unexpected(listed.error());
    std::vector<WriteOp> dels;
    for (const Item& item : listed.value().items) dels.push_back(WriteOp::del(item.key));
    if (!dels.empty()) {
      const std::size_t count = dels.size();
      auto deleted = co_await client.batch(self, std::move(dels));
      if (!deleted) co_return unexpected(deleted.error());
      erased += count;
    }
    // The cursor is the last key listed: deleting up to it does not move it.
    page.cursor = listed.value().next_cursor;
  } while (!page.cursor.empty());
  co_return erased;
}

ActorCensus::ActorCensus(const Persistence& actors, std::size_t page_size)
    : actors_(actors), page_size_(std::max<std::size_t>(page_size, 1)) {}

Task<StoreResult<bool>> ActorCensus::next(Process& self) {
  items_.clear();
  if (done_) co_return false;
  auto listed = co_await actors_.store().list(self, actors_.options().key_prefix,
                                              ListOptions{.cursor = cursor_, .limit = page_size_});
  if (!listed) co_return unexpected(listed.error());
  items_ = std::move(listed.value().items);
  for (const Item& item : items_) {
    ++totals_.keys;
    totals_.bytes += item.key.size() + item.value.size();
  }
  cursor_ = std::move(listed.value().next_cursor);
  done_ = cursor_.empty();
  co_return true;
}

Task<StoreResult<StoredTotals>> count_stored(Process& self, const Persistence& actors) {
  ActorCensus census(actors);
  for (;;) {
    auto more = co_await census.next(self);
    if (!more) co_return unexpected(more.error());
    if (!more.value()) co_return census.totals();
  }
}

std::optional<std::string> head_actor(const Persistence& actors, std::string_view key) {
  const std::string& prefix = actors.options().key_prefix;
  constexpr std::string_view suffix = "/head";
  if (!key.starts_with(prefix) || !key.ends_with(suffix)) return std::nullopt;
  std::string_view escaped = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
  // The inverse of Persistence::actor_prefix: only %25 and %2F are escapes,
  // and an escaped name has no '/' of its own.
  std::string actor;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '/') return std::nullopt;
    if (c == '%') {
      std::string_view code = escaped.substr(i + 1, 2);
      if (code == "25")
        actor += '%';
      else if (code == "2F")
        actor += '/';
      else
        return std::nullopt;
      i += 2;
      continue;
    }
    actor += c;
  }
  if (actor.empty()) return std::nullopt;
  return actor;
}

}  // namespace troupe
