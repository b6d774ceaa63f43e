#include "net/gateway/detail/alarm_book.hpp"

#include <charconv>
#include <cstdio>

#include "runtime/backoff.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/receive.hpp"
#include "runtime/runtime.hpp"

namespace troupe::detail {

namespace {

std::int64_t to_ms(AlarmBook::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<AlarmBook::Time> from_ms(const std::string& text) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return AlarmBook::Time(std::chrono::milliseconds(ms));
}

}  // namespace

AlarmBook::AlarmBook(Runtime& rt, AwaitableStore* store, std::string key_prefix, std::string keeper)
    : rt_(rt), store_(store), key_prefix_(std::move(key_prefix)), keeper_(std::move(keeper)) {}

std::optional<AlarmBook::Time> AlarmBook::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::size_t AlarmBook::size() const {
  std::lock_guard lock(mutex_);
  return by_name_.size();
}

void AlarmBook::erase_locked(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  by_time_.erase({it->second, name});
  by_name_.erase(it);
}

namespace {
// In a cluster an alarm write carries the session's fence: a stale owner's
// is refused like its snapshot writes.
Task<StoreResult<void>> write_alarm(Process& self, AwaitableStore& store, WriteOp op,
                                    const std::optional<StoreFence>& fence) {
  if (!fence) {
    if (op.kind == WriteOp::Kind::del) {
      auto removed = co_await store.del(self, std::move(op.key));
      if (!removed) co_return unexpected(removed.error());
      co_return StoreResult<void>{};
    }
    auto written = co_await store.put(self, std::move(op.key), std::move(op.value));
    if (!written) co_return unexpected(written.error());
    co_return StoreResult<void>{};
  }
  co_return co_await store.batch(self, {WriteOp::fence(*fence), std::move(op)});
}
}  // namespace

Task<StoreResult<void>> AlarmBook::set(Process& self, const std::string& name, Time at,
                                       const std::optional<StoreFence>& fence) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    erase_locked(name);
    by_name_.emplace(name, at);
    by_time_.emplace(at, name);
    earliest = by_time_.begin()->second == name;
  }
  // The keeper sleeps until the earliest alarm: only an earlier one moves it.
  if (earliest) rt_.send(keeper_, AlarmsChanged{});
  if (!store_) co_return StoreResult<void>{};
  co_return co_await write_alarm(
      self, *store_, WriteOp::put(key_prefix_ + name, std::to_string(to_ms(at))), fence);
}

Task<StoreResult<void>> AlarmBook::clear(Process& self, const std::string& name,
                                         std::optional<Time> only_if,
                                         const std::optional<StoreFence>& fence) {
  {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end() || (only_if && it->second != *only_if)) co_return StoreResult<void>{};
    erase_locked(name);
  }
  if (!store_) co_return StoreResult<void>{};
  co_return co_await write_alarm(self, *store_, WriteOp::del(key_prefix_ + name), fence);
}

Task<StoreResult<void>> AlarmBook::refresh(Process& self, const std::string& name) {
  if (!store_) co_return StoreResult<void>{};
  auto got = co_await store_->get(self, key_prefix_ + name);
  if (!got) co_return unexpected(got.error());
  std::optional<Time> at;
  if (got.value()) at = from_ms(got.value()->value);
  std::lock_guard lock(mutex_);
  erase_locked(name);
  if (at) {
    by_name_.emplace(name, *at);
    by_time_.emplace(*at, name);
  }
  co_return StoreResult<void>{};
}

void AlarmBook::forget(const std::string& name) {
  std::lock_guard lock(mutex_);
  erase_locked(name);
}

Task<StoreResult<std::vector<std::string>>> AlarmBook::load(Process& self) {
  std::vector<std::string> added;
  if (!store_) co_return added;
  ListOptions page;
  do {
    auto listed = co_await store_->list(self, key_prefix_, page);
    if (!listed) co_return unexpected(listed.error());
    for (const Item& item : listed.value().items) {
      std::string name = item.key.substr(key_prefix_.size());
      // Route names never hold '/': such a key belongs to a longer route.
      if (name.find('/') != std::string::npos) continue;
      auto at = from_ms(item.value);
      if (!at) {
        log_warning("gateway", "ignoring an alarm that is not a time in ms",
                    {{"key", item.key}, {"value", item.value}});
        continue;
      }
      std::lock_guard lock(mutex_);
      if (by_name_.emplace(name, *at).second) {
        by_time_.emplace(*at, name);
        added.push_back(name);
      }
    }
    page.cursor = listed.value().next_cursor;
  } while (!page.cursor.empty());
  co_return added;
}

std::vector<std::string> AlarmBook::due(Time now) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  for (const auto& [at, name] : by_time_) {
    if (at > now) break;
    out.push_back(name);
  }
  return out;
}

std::optional<AlarmBook::Time> AlarmBook::next_after(Time now) const {
  std::lock_guard lock(mutex_);
  for (const auto& entry : by_time_)
    if (entry.first > now) return entry.first;
  return std::nullopt;
}

Proc alarm_keeper(Process& self, AlarmBook& book, AlarmKeeperHooks hooks) {
  using Clock = std::chrono::system_clock;
  const Duration max_sleep = std::chrono::minutes(1);  // bounds the effect of clock steps
  BackoffCounter load_failures(
      Backoff{.base = std::chrono::milliseconds(100), .cap = std::chrono::seconds(5)});
  bool loaded = false;
  Clock::time_point load_at = system_now();  // while !loaded
  Clock::time_point reload_at = Clock::time_point::max();
  // Due names already woken, and when to wake them again.
  std::map<std::string, Clock::time_point> retry;
  for (;;) {
    auto now = system_now();
    if (!loaded && load_at <= now) {
      auto added = co_await book.load(self);
      if (added) {
        loaded = true;
        if (hooks.reload_every > Duration::zero())
          reload_at =
              system_now() + std::chrono::duration_cast<Clock::duration>(hooks.reload_every);
        // A session started before the load did not know its alarm yet.
        for (const auto& name : added.value()) hooks.poke(name);
      } else {
        log_warning("gateway", "cannot read the alarms, retrying",
                    {{"error", to_string(added.error())}});
        load_at = system_now() + load_failures.next();
      }
      now = system_now();
    }
    if (loaded && reload_at <= now) {
      loaded = false;
      load_at = now;
      continue;
    }
    std::erase_if(retry, [&](const auto& r) {
      auto at = book.get(r.first);
      return !at || *at > now;
    });
    for (const auto& name : book.due(now)) {
      auto r = retry.find(name);
      if (r != retry.end() && r->second > now) continue;
      if (!hooks.poke(name)) hooks.start(name);
      retry[name] = now + hooks.retry_interval;
    }
    auto wake = book.next_after(now);
    for (const auto& r : retry)
      if (!wake || r.second < *wake) wake = r.second;
    if (!loaded && (!wake || load_at < *wake)) wake = load_at;
    if (loaded && (!wake || reload_at < *wake)) wake = reload_at;
    Duration sleep = max_sleep;
    if (wake) sleep = std::clamp<Duration>(*wake - now, Duration::zero(), max_sleep);
    co_await self.receive([](const AlarmsChanged&) {}, after(sleep, [] {}));
  }
}

}  // namespace troupe::detail
