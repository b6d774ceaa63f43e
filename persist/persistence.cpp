#include "persist/persistence.hpp"

#include <algorithm>
#include <limits>

#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace troupe {

Persistence::Persistence(AwaitableStore& client, PersistenceOptions options)
    : client_(client), options_(std::move(options)) {
  if (options_.generations == 0) options_.generations = 1;
  if (options_.poison_strikes < 1) options_.poison_strikes = 1;
}

std::string Persistence::actor_prefix(std::string_view actor) const {
  std::string out = options_.key_prefix;
  for (char c : actor) {
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else
      out += c;
  }
  out += '/';
  return out;
}

std::string Persistence::head_key(std::string_view actor) const {
  return actor_prefix(actor) + "head";
}

std::string Persistence::generation_key(std::string_view actor, Revision revision) const {
  return actor_prefix(actor) + "gen/" + std::to_string(revision % options_.generations);
}

std::string Persistence::quarantine_key(std::string_view actor, Revision revision) const {
  return actor_prefix(actor) + "q/" + std::to_string(revision);
}

std::optional<StoreError> Persistence::check_actor(std::string_view actor) const {
  // The longest of its snapshot keys: a quarantine key with a 20-digit revision.
  return client_.store().key_error(quarantine_key(actor, std::numeric_limits<Revision>::max()));
}

std::string Persistence::storage_prefix(std::string_view actor) const {
  return actor_prefix(actor) + "kv/";
}

std::vector<UnsavedActor> Persistence::unsaved() const {
  std::lock_guard lock(mutex_);
  return unsaved_;
}

void Persistence::report_unsaved(const std::string& actor, const StoreError& error) {
  {
    std::lock_guard lock(mutex_);
    unsaved_.push_back({actor, error});
  }
  log_error("persist", "actor stopped without saving its state",
            {{"actor", actor}, {"error", to_string(error)}});
  if (options_.on_unsaved) options_.on_unsaved(actor, error);
}

PersistenceStats Persistence::metrics() const {
  std::lock_guard lock(mutex_);
  PersistenceStats m{writes_, write_failures_, write_time_, dirty_since_.size(), {}};
  const auto now = steady_now();
  for (const auto& [state, since] : dirty_since_)
    m.oldest_unsaved = std::max(m.oldest_unsaved, now - since);
  return m;
}

void Persistence::record_write(const void* state, bool committed, Duration took, bool clean) {
  std::lock_guard lock(mutex_);
  if (committed) {
    ++writes_;
    write_time_ += took;
  } else {
    ++write_failures_;
  }
  if (clean) dirty_since_.erase(state);
}

void Persistence::record_dirty(const void* state, std::chrono::steady_clock::time_point since) {
  std::lock_guard lock(mutex_);
  dirty_since_[state] = since;
}

void Persistence::record_clean(const void* state) {
  std::lock_guard lock(mutex_);
  dirty_since_.erase(state);
}

int Persistence::strikes(const std::string& actor, Revision revision) const {
  std::lock_guard lock(mutex_);
  auto it = strikes_.find(actor);
  if (it == strikes_.end()) return 0;
  auto r = it->second.find(revision);
  return r == it->second.end() ? 0 : r->second;
}

void Persistence::add_strikes(const std::string& actor, Revision revision, int count) {
  std::lock_guard lock(mutex_);
  strikes_[actor][revision] += count;
}

void Persistence::clear_strikes(const std::string& actor) {
  std::lock_guard lock(mutex_);
  auto it = strikes_.find(actor);
  if (it == strikes_.end()) return;
  // Poison marks stay: a later fallback must not land on a poison revision.
  std::erase_if(it->second, [&](const auto& s) { return s.second < options_.poison_strikes; });
  if (it->second.empty()) strikes_.erase(it);
}

}  // namespace troupe
