#include "persist/persistent_state.hpp"

#include <atomic>
#include <random>

#include "runtime/backoff.hpp"
#include "runtime/clock.hpp"
#include "runtime/detail/sim_hooks.hpp"

namespace troupe {

struct PersistentStateBase::WriteDone {
  enum class Result : std::uint8_t { committed, fenced, failed };
  std::uint64_t token = 0;
  std::uint64_t id = 0;
  Result outcome = Result::failed;
  StoreError error;
};

struct PersistentStateBase::Tick {
  std::uint64_t token = 0;
  std::uint64_t id = 0;
};

namespace {

using SystemClock = std::chrono::system_clock;

std::uint64_t new_token() {
#ifdef TROUPE_SIMULATION
  // The simulation's draws, so that a run replays from its seed.
  if (detail::SimHooks* hooks = detail::sim_hooks()) return hooks->random() | 1;
#endif
  static std::atomic<std::uint64_t> counter{
      std::random_device{}() ^ static_cast<std::uint64_t>(system_now().time_since_epoch().count())};
  // splitmix64: distinct counters give well-spread tokens.
  std::uint64_t z = counter.fetch_add(0x9e3779b97f4a7c15, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return (z ^ (z >> 31)) | 1;  // never 0
}

// The head's value: [layout 1, writer token, nil]. The third field once
// held an alarm time; sessions keep their alarm with the gateway
// (Session::set_alarm), so it is written nil and ignored when read.
struct HeadMeta {
  std::uint64_t token = 0;
};

std::optional<HeadMeta> decode_head(const std::string& bytes) {
  try {
    std::size_t used = 0;  // sizes limited to the bytes there: a stored head is input too
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), used, nullptr, nullptr,
                                  detail::unpack_limit_for(bytes.size()));
    const msgpack::object& o = handle.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size < 3) return std::nullopt;
    HeadMeta meta;
    o.via.array.ptr[1].convert(meta.token);
    return meta;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string ms_text(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

PersistentStateBase::PersistentStateBase(Persistence& store, std::string actor,
                                         std::uint32_t schema_version,
                                         PersistentStateOptions options)
    : store_(store),
      actor_(std::move(actor)),
      head_key_(store.head_key(actor_)),
      schema_(schema_version),
      options_(options),
      token_(new_token()) {}

PersistentStateBase::~PersistentStateBase() {
  store_.record_clean(this);
}

std::string PersistentStateBase::encode_head() const {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_array(3);
  pk.pack(1);
  pk.pack(token_);
  pk.pack_nil();
  return std::string(buffer.data(), buffer.size());
}

// --- load ----------------------------------------------------------------------------

void PersistentStateBase::fail_load(const std::string& key, const std::string& cause) {
  self_->exit(ExitReason::error("persist: cannot load the state of actor '" + actor_ +
                                "' from key '" + key + "': " + cause));
}

Task<> PersistentStateBase::load(Process& self) {
  self_ = &self;
  AwaitableStore& client = store_.store();
  const auto timeout = store_.options().op_timeout;
  auto head = co_await client.get(self, head_key_, timeout);
  if (!head) fail_load(head_key_, to_string(head.error()));
  if (!head.value()) {  // never written: a fresh actor
    reset_state();
    co_return;
  }
  revision_ = head.value()->revision;
  auto meta = decode_head(head.value()->value);
  if (!meta) fail_load(head_key_, "the head's metadata does not decode");

  const unsigned generations = store_.options().generations;
  const Revision oldest = revision_ >= generations ? revision_ - generations + 1 : 1;
  for (Revision r = revision_;; --r) {
    if (r == 0) {  // fell back past the first snapshot: the initial state
      reset_state();
      loaded_from_ = 0;
      co_return;
    }
    if (r < oldest)
      fail_load(store_.generation_key(actor_, revision_),
                "every kept generation (revisions " + std::to_string(oldest) + " to " +
                    std::to_string(revision_) + ") is poison or missing");
    if (co_await load_revision(self, r, r == revision_)) {
      loaded_from_ = r;
      co_return;
    }
  }
}

// True: loaded. False: skip to the generation before. Exits on a failure
// that a restart should report (store error, corrupt snapshot).
Task<bool> PersistentStateBase::load_revision(Process& self, Revision revision, bool newest) {
  AwaitableStore& client = store_.store();
  const auto timeout = store_.options().op_timeout;
  const std::string key = store_.generation_key(actor_, revision);
  if (!newest) {
    // An older generation is used only if no earlier run quarantined it.
    auto q = co_await client.get(self, store_.quarantine_key(actor_, revision), timeout);
    if (!q) fail_load(key, to_string(q.error()));
    if (q.value()) co_return false;
  }
  auto blob = co_await client.get(self, key, timeout);
  if (!blob) fail_load(key, to_string(blob.error()));
  if (!blob.value()) {
    if (!newest) co_return false;
    store_.mark_poison(actor_, revision);
    fail_load(key, "the snapshot of revision " + std::to_string(revision) + " is missing");
  }
  std::string bytes = std::move(blob.value()->value);
  if (store_.is_poison(actor_, revision)) {
    co_await quarantine(self, revision, std::move(bytes));
    co_return false;
  }
  auto snapshot = decode_snapshot(bytes);
  if (snapshot && snapshot->revision != revision) {
    if (!newest) co_return false;  // the slot was reused: that generation is gone
    store_.mark_poison(actor_, revision);
    fail_load(key, "the slot holds revision " + std::to_string(snapshot->revision) +
                       ", head says " + std::to_string(revision));
  }
  std::optional<CodecError> error;
  if (!snapshot)
    error = snapshot.error();
  else if (auto schema = check_schema(*snapshot, schema_); !schema)
    error = schema.error();
  else if (auto decoded = decode_payload(*snapshot); !decoded)
    error = decoded.error();
  if (!error) co_return true;
  reset_state();
  store_.mark_poison(actor_, revision);
  co_await quarantine(self, revision, std::move(bytes));
  fail_load(key, to_string(*error) + " (quarantined as '" +
                     store_.quarantine_key(actor_, revision) + "')");
  co_return false;
}

Task<> PersistentStateBase::quarantine(Process& self, Revision revision, std::string blob) {
  // Revision 1 only: a blob already quarantined there is never overwritten.
  (void)co_await store_.store().compare_and_put(self, store_.quarantine_key(actor_, revision),
                                                std::move(blob), 1, store_.options().op_timeout);
}

// --- changes and writes --------------------------------------------------------------

void PersistentStateBase::touch(std::optional<Durability> durability) {
  const Durability d = durability.value_or(options_.durability);
  const auto now = steady_now();
  if (!dirty()) {
    first_dirty_ = now;
    store_.record_dirty(this, now);
  }
  last_change_ = now;
  ++changes_;
  switch (d.mode) {
    case Durability::Mode::write_through:
      urgent_ = true;
      if (self_) tick_at(now);  // the write starts once the caller has made its change
      break;
    case Durability::Mode::debounce:
      if (!debounce_) {
        debounce_ = d;
      } else {
        debounce_->wait = std::min(debounce_->wait, d.wait);
        debounce_->max_wait = std::min(debounce_->max_wait, d.max_wait);
      }
      if (self_) tick_at(std::min(now + debounce_->wait, first_dirty_ + debounce_->max_wait));
      break;
    case Durability::Mode::on_stop:
      break;
  }
}

void PersistentStateBase::tick_at(Clock::time_point at) {
  if (tick_at_ && *tick_at_ <= at) return;  // an earlier tick will reconsider
  tick_at_ = at;
  tick_id_ = ++next_tick_id_;
  auto delay = at - steady_now();
  if (delay <= Duration::zero())
    self_->send(self_->self(), Tick{token_, tick_id_});
  else
    self_->send_after(delay, self_->self(), Tick{token_, tick_id_});
}

void PersistentStateBase::schedule() {
  if (fenced_ || in_flight_ || !dirty() || !self_) return;
  // Too big to write: it waits for a change (that may shrink it) or a commit.
  if (oversize_at_changes_ == changes_) return;
  const auto now = steady_now();
  std::optional<Clock::time_point> due;
  if (urgent_) due = now;
  if (debounce_) {
    auto d = std::min(last_change_ + debounce_->wait, first_dirty_ + debounce_->max_wait);
    due = due ? std::min(*due, d) : d;
  }
  if (!due) return;  // on_stop changes only: flush() writes them
  if (retry_at_ && *retry_at_ > *due) due = retry_at_;
  if (*due <= now)
    start_write();
  else
    tick_at(*due);
}

void PersistentStateBase::start_write() {
  const Revision revision = revision_ + 1;
  std::string snapshot = encode_snapshot(Snapshot{schema_, revision, encode_payload()});
  const std::uint64_t id = ++next_write_id_;
  in_flight_ = InFlight{id, revision, changes_, urgent_, debounce_, steady_now()};
  urgent_ = false;
  debounce_.reset();
  const std::size_t limit = store_.options().max_snapshot_bytes;
  if (limit != 0 && snapshot.size() > limit) {
    // Nothing is written; the write fails like one the store refused, but
    // is not retried until the state changes again (schedule()).
    oversize_at_changes_ = changes_;
    self_->send(self_->self(),
                WriteDone{token_, id, WriteDone::Result::failed,
                          StoreError{StoreErrc::invalid_argument,
                                     "the snapshot of actor '" + actor_ + "' is " +
                                         std::to_string(snapshot.size()) +
                                         " bytes, over the limit of " + std::to_string(limit) +
                                         " bytes (PersistenceOptions::max_snapshot_bytes)"}});
    return;
  }
  oversize_at_changes_.reset();
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::put_at(head_key_, encode_head(), revision));
  ops.push_back(WriteOp::put(store_.generation_key(actor_, revision), std::move(snapshot)));
  if (options_.fence) ops.push_back(WriteOp::fence(*options_.fence));

  Runtime* rt = &self_->runtime();
  const Pid pid = self_->self();
  const std::uint64_t token = token_;
  const std::string head = head_key_;
  store_.store().post([=, ops = std::move(ops)](Store& store) mutable {
    auto send = [=](WriteDone::Result outcome, StoreError error) {
      rt->send(pid, WriteDone{token, id, outcome, std::move(error)});
    };
    Store* s = &store;
    store.batch(std::move(ops), [=](StoreResult<void> result) {
      if (result) return send(WriteDone::Result::committed, {});
      // The store says a newer owner holds the name: final, and no attempt
      // of ours can have been applied past it (a fenced batch applies nothing).
      if (result.error().code == StoreErrc::fenced)
        return send(WriteDone::Result::fenced,
                    StoreError{StoreErrc::fenced, "writing revision " + std::to_string(revision) +
                                                      " of '" + head + "', the store's fence " +
                                                      result.error().message});
      if (result.error().code != StoreErrc::conflict)
        return send(WriteDone::Result::failed, result.error());
      // Our own earlier attempt may have been applied (its answer was lost):
      // then head holds this revision with our token.
      s->get(head, [=](StoreResult<std::optional<Entry>> got) {
        if (got && got.value() && got.value()->revision == revision) {
          auto meta = decode_head(got.value()->value);
          if (meta && meta->token == token) return send(WriteDone::Result::committed, {});
        }
        if (!got) return send(WriteDone::Result::failed, got.error());
        Revision stored = got.value() ? got.value()->revision : 0;
        send(WriteDone::Result::fenced,
             StoreError{StoreErrc::conflict, "writing revision " + std::to_string(revision) +
                                                 " of '" + head +
                                                 "', another incarnation had written revision " +
                                                 std::to_string(stored)});
      });
    });
  });
}

void PersistentStateBase::on_write_done(WriteDone& done) {
  if (!in_flight_ || in_flight_->id != done.id) return;  // answered a commit that gave up
  InFlight written = *in_flight_;
  in_flight_.reset();
  switch (done.outcome) {
    case WriteDone::Result::committed:
      revision_ = written.revision;
      written_changes_ = std::max(written_changes_, written.changes);
      store_.record_write(this, true, steady_now() - written.started, !dirty());
      if (!committed_since_load_) store_.clear_strikes(actor_);
      committed_since_load_ = true;
      last_error_.reset();
      retry_at_.reset();
      failed_writes_ = 0;
      break;
    case WriteDone::Result::fenced:
      fenced_ = done.error.message;
      exit_fenced();
    case WriteDone::Result::failed: {
      store_.record_write(this, false, {}, false);
      last_error_ = done.error;
      const auto& o = store_.options();
      retry_at_ = steady_now() + backoff_delay(Backoff{.base = o.retry_initial, .cap = o.retry_max},
                                               failed_writes_++);
      urgent_ = urgent_ || written.urgent;
      if (!debounce_) debounce_ = written.debounce;
      break;
    }
  }
  schedule();
}

void PersistentStateBase::exit_fenced() {
  self_->exit(ExitReason::error("persist: stale incarnation of actor '" + actor_ +
                                "' fenced: " + fenced_.value_or("")));
}

bool PersistentStateBase::handle(AnyMessage& message) {
  if (message.is<WriteDone>()) {
    auto& done = message.get<WriteDone>();
    if (done.token != token_) return false;
    on_write_done(done);
    return true;
  }
  if (message.is<Tick>()) {
    auto& tick = message.get<Tick>();
    if (tick.token != token_) return false;
    if (tick.id == tick_id_) {  // older ticks were superseded by an earlier one
      tick_at_.reset();
      schedule();
    }
    return true;
  }
  return false;
}

// --- commit and flush ----------------------------------------------------------------

Task<StoreResult<Revision>> PersistentStateBase::commit(Process& self) {
  return commit(self, store_.options().op_timeout);
}

Task<StoreResult<Revision>> PersistentStateBase::commit(Process& self, Duration timeout) {
  const auto deadline = steady_now() + timeout;
  const std::uint64_t target = changes_;
  std::optional<std::uint64_t> own;
  for (;;) {
    if (fenced_) exit_fenced();
    if (written_changes_ >= target) co_return revision_;
    if (!in_flight_) {
      start_write();
      own = in_flight_->id;
    }
    const std::uint64_t id = in_flight_->id;
    const std::uint64_t token = token_;
    auto left = deadline - steady_now();
    auto done = co_await self.receive(
        when([token, id](const WriteDone& d) { return d.token == token && d.id == id; },
             [](WriteDone& d) { return std::optional<WriteDone>(std::move(d)); }),
        after(left > Duration::zero() ? left : Duration::zero(),
              [] { return std::optional<WriteDone>(); }));
    if (!done)
      co_return unexpected(StoreError{
          StoreErrc::unavailable, "the state of actor '" + actor_ + "' was not written within " +
                                      ms_text(timeout) + " (still trying)"});
    on_write_done(*done);
    if (done->outcome == WriteDone::Result::failed && own == id) {
      co_return unexpected(StoreError{done->error.code, "cannot write the state of actor '" +
                                                            actor_ + "': " + done->error.message});
    }
  }
}

Task<Revision> PersistentStateBase::commit_or_exit(Process& self) {
  auto committed = co_await commit(self);
  if (!committed) self.exit(ExitReason::error("persist: " + to_string(committed.error())));
  co_return committed.value();
}

void PersistentStateBase::record_crash() {
  if (self_ && loaded_from_ != 0 && !committed_since_load_)
    store_.add_strikes(actor_, loaded_from_, 1);
}

Task<StoreResult<void>> PersistentStateBase::flush(Process& self, const ExitReason& reason) {
  return flush(self, reason, options_.flush_deadline);
}

Task<StoreResult<void>> PersistentStateBase::flush(Process& self, const ExitReason& reason,
                                                   Duration deadline) {
  if (!self_ || fenced_) co_return StoreResult<void>{};
  if (reason.kind() == ExitReason::Kind::error) {
    record_crash();
    if (!options_.write_on_crash) co_return StoreResult<void>{};
  }
  const auto end = steady_now() + deadline;
  while (dirty() || in_flight_) {
    auto left = end - steady_now();
    if (left <= Duration::zero()) break;
    auto committed = co_await commit(self, left);
    if (committed) break;
    last_error_ = committed.error();
    if (oversize_at_changes_ == changes_) break;  // retrying cannot help
    // Back off before the next attempt (the store is down), within the deadline.
    // Until the retry that on_write_done scheduled, else the backoff's base.
    Duration pause = retry_at_ ? *retry_at_ - steady_now() : Duration::zero();
    if (pause <= Duration::zero()) pause = store_.options().retry_initial;
    pause = std::min<Duration>(pause, end - steady_now());
    if (pause > Duration::zero()) co_await self.sleep_for(pause);
  }
  if (!dirty()) co_return StoreResult<void>{};
  StoreError error =
      last_error_.value_or(StoreError{StoreErrc::unavailable, "no write finished in time"});
  if (oversize_at_changes_ == changes_)
    error.message = "not written: " + error.message;
  else
    error.message = "not written within the " + ms_text(deadline) + " deadline: " + error.message;
  store_.report_unsaved(actor_, error);
  co_return unexpected(error);
}

StateStats PersistentStateBase::stats() const {
  StateStats s;
  s.revision = revision_;
  s.dirty = dirty();
  s.dirty_changes = changes_ - written_changes_;
  if (s.dirty) {
    s.dirty_age = steady_now() - first_dirty_;
    s.dirty_bytes = encode_payload().size();
  }
  s.write_in_flight = in_flight_.has_value();
  s.last_error = last_error_;
  return s;
}

}  // namespace troupe
