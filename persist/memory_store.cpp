#include "persist/memory_store.hpp"

#include <stdexcept>

#include "persist/detail/batch_plan.hpp"
#include "persist/detail/page.hpp"
#include "persist/detail/validate.hpp"

namespace troupe {

MemoryStore::MemoryStore(uv_loop_t* loop) : deferred_(loop) {}

template <class T>
void MemoryStore::reply(StoreCallback<T> done, StoreResult<T> result) {
  deferred_.post([done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
}

void MemoryStore::ensure_open() const {
  if (deferred_.closed()) throw std::logic_error("MemoryStore: operation issued after close()");
}

Revision MemoryStore::revision_of(const std::string& key) const {
  auto it = data_.find(key);
  return it == data_.end() ? 0 : it->second.revision;
}

void MemoryStore::get(std::string key, StoreCallback<std::optional<Entry>> done) {
  ensure_open();
  if (auto e = detail::check_key(key)) return reply(std::move(done), {unexpected(*e)});
  auto it = data_.find(key);
  std::optional<Entry> found;
  if (it != data_.end()) found = it->second;
  reply(std::move(done), StoreResult<std::optional<Entry>>(std::move(found)));
}

void MemoryStore::put(std::string key, std::string value, StoreCallback<Revision> done) {
  ensure_open();
  if (auto e = detail::check_key(key)) return reply(std::move(done), {unexpected(*e)});
  auto& entry = data_[key];
  entry.value = std::move(value);
  reply(std::move(done), StoreResult<Revision>(++entry.revision));
}

void MemoryStore::del(std::string key, StoreCallback<bool> done) {
  ensure_open();
  if (auto e = detail::check_key(key)) return reply(std::move(done), {unexpected(*e)});
  reply(std::move(done), StoreResult<bool>(data_.erase(key) > 0));
}

void MemoryStore::list(std::string prefix, ListOptions options, StoreCallback<Page> done) {
  ensure_open();
  if (options.limit == 0) {
    return reply(
        std::move(done),
        {unexpected(StoreError{StoreErrc::invalid_argument, "list limit must be at least 1"})});
  }
  auto it = data_.lower_bound(prefix);
  if (!options.cursor.empty() && options.cursor >= prefix) it = data_.upper_bound(options.cursor);
  detail::PageBuilder page(prefix, options.limit);
  for (; it != data_.end() && page.wants(it->first); ++it) {
    page.add(Item{it->first, it->second.value, it->second.revision});
  }
  reply(std::move(done), StoreResult<Page>(std::move(page).finish()));
}

void MemoryStore::batch(std::vector<WriteOp> ops, StoreCallback<void> done) {
  ensure_open();
  if (auto e = detail::check_batch(ops)) return reply(std::move(done), {unexpected(*e)});
  std::map<std::string, std::string> fences;
  for (const auto& op : ops) {
    if (op.kind != WriteOp::Kind::fence) continue;
    if (auto it = data_.find(op.key); it != data_.end()) fences[op.key] = it->second.value;
  }
  auto resolved = detail::resolve_fences(std::move(ops), fences);
  if (!resolved) return reply(std::move(done), {unexpected(resolved.error())});
  ops = std::move(*resolved);
  std::map<std::string, Revision> stored;
  for (const auto& op : ops) stored[op.key] = revision_of(op.key);
  auto plan = detail::plan_batch(ops, stored);
  if (!plan) return reply(std::move(done), {unexpected(plan.error())});
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == WriteOp::Kind::del) {
      data_.erase(ops[i].key);
    } else {
      data_[ops[i].key] = Entry{std::move(ops[i].value), (*plan)[i]};
    }
  }
  reply(std::move(done), StoreResult<void>());
}

void MemoryStore::compare_and_put(std::string key, std::string value, Revision revision,
                                  StoreCallback<void> done) {
  ensure_open();
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::put_at(std::move(key), std::move(value), revision));
  if (auto e = detail::check_batch(ops)) return reply(std::move(done), {unexpected(*e)});
  Revision stored = revision_of(ops[0].key);
  if (stored + 1 != revision) {
    return reply(std::move(done),
                 {unexpected(StoreError{StoreErrc::conflict,
                                        conflict_message(ops[0].key, revision, stored)})});
  }
  data_[ops[0].key] = Entry{std::move(ops[0].value), revision};
  reply(std::move(done), StoreResult<void>());
}

void MemoryStore::compare_and_put_many(std::vector<CasWrite> writes,
                                       StoreCallback<std::vector<CasOutcome>> done) {
  ensure_open();
  if (auto e = detail::check_cas_many(writes)) return reply(std::move(done), {unexpected(*e)});
  std::vector<CasOutcome> outcomes;
  outcomes.reserve(writes.size());
  for (auto& w : writes) {
    Revision stored = revision_of(w.key);
    if (stored + 1 == w.revision) {
      data_[w.key] = Entry{std::move(w.value), w.revision};
      outcomes.push_back({true, w.revision});
    } else {
      outcomes.push_back({false, stored});
    }
  }
  reply(std::move(done), StoreResult<std::vector<CasOutcome>>(std::move(outcomes)));
}

void MemoryStore::close(std::function<void()> done) {
  deferred_.close(std::move(done));
}

}  // namespace troupe
