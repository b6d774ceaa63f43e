#include "net/gateway/detail/retention_sweeper.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "net/gateway/gateway.hpp"
#include "persist/retention.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe::detail {

namespace {

using std::chrono::milliseconds;

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(system_now().time_since_epoch()).count();
}

std::int64_t to_ms(Duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

std::optional<std::int64_t> parse_ms(const std::string& text) {
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return ms;
}

// The default sweep: a quarter of the period (so a name outlives it by at
// most a quarter), within [1 s, 1 h]; the census at least every minute.
constexpr Duration census_every = std::chrono::seconds(60);

Duration sweep_interval_of(const GatewayOptions& o) {
  if (o.retention_sweep > Duration::zero()) return o.retention_sweep;
  if (o.retention <= Duration::zero()) return census_every;
  return std::clamp<Duration>(o.retention / 4, std::chrono::seconds(1), std::chrono::hours(1));
}

void warn(const char* what, const StoreError& error) {
  log_warning("gateway", what, {{"error", to_string(error)}});
}

}  // namespace

// Held by the sweeper while it erases a name: the end of the erase, however
// it ends (a store error, the sweeper shut down), wakes the waiting starts.
class Retention::Claim {
 public:
  Claim(Retention& r, std::string full) : r_(r), full_(std::move(full)) {}
  ~Claim() { r_.release(full_); }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;

 private:
  Retention& r_;
  std::string full_;
};

Retention::Retention(Runtime& rt, const GatewayOptions& options)
    : rt_(rt),
      retention_(std::max(options.retention, Duration::zero())),
      sweep_interval_(sweep_interval_of(options)),
      census_interval_(std::min(sweep_interval_, census_every)),
      records_(options.persistence ? &options.persistence->store() : nullptr),
      use_prefix_(options.use_prefix),
      alarm_store_(records_),
      alarm_prefix_(options.alarm_prefix),
      actors_(options.persistence) {}

void Retention::add_route(std::string names, const AlarmBook* alarms) {
  routes_.push_back(Route{std::move(names), alarms});
}

ChildSpec Retention::child_spec() {
  return ChildSpec{
      .id = "gateway.retention",
      .start = process_child([this](Process& self) -> Proc { return sweep_loop(self); }),
      .name = "gateway.retention"};
}

void Retention::write_metrics(std::ostream& out) const {
  if (actors_) {
    out << "# TYPE troupe_stored_keys gauge\ntroupe_stored_keys " << stored_keys_.load() << "\n"
        << "# TYPE troupe_stored_bytes gauge\ntroupe_stored_bytes " << stored_bytes_.load() << "\n";
  }
  out << "# TYPE troupe_retention_erased_total counter\ntroupe_retention_erased_total "
      << erased_.load() << "\n"
      << "# TYPE troupe_retention_sweeps_total counter\ntroupe_retention_sweeps_total "
      << passes_.load() << "\n";
}

// --- who runs, who is erased ----------------------------------------------------------------

bool Retention::try_enter(const std::string& name, Pid waiter) {
  std::lock_guard lock(mutex_);
  NameState& state = names_[name];
  if (state.erasing) {
    state.waiters.push_back(waiter);
    return false;
  }
  ++state.running;
  return true;
}

void Retention::leave(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(name);
  if (it == names_.end()) return;
  if (--it->second.running <= 0 && !it->second.erasing) names_.erase(it);
}

bool Retention::is_running(const std::string& full) const {
  std::lock_guard lock(mutex_);
  auto it = names_.find(full);
  return it != names_.end() && it->second.running > 0;
}

bool Retention::claim(const std::string& full) {
  std::lock_guard lock(mutex_);
  NameState& state = names_[full];
  if (state.running > 0 || state.erasing) return false;
  state.erasing = true;
  return true;
}

void Retention::release(const std::string& full) {
  std::vector<Pid> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = names_.find(full);
    if (it == names_.end()) return;
    it->second.erasing = false;
    waiters = std::move(it->second.waiters);
    if (it->second.running <= 0) names_.erase(it);
  }
  for (Pid waiter : waiters) rt_.send(waiter, ErasureDone{full});
}

void Retention::record_use(const std::string& name) {
  if (!enabled() || !records_) return;
  std::string key = use_prefix_ + name;
  std::string value = std::to_string(now_ms());
  records_->post([key = std::move(key), value = std::move(value)](Store& store) mutable {
    // A failed write (store down) leaves the previous record: the sweeper
    // refreshes the records of running names, and a name is erased only
    // when it is not running.
    store.put(std::move(key), std::move(value), [](StoreResult<Revision>) {});
  });
}

const Retention::Route* Retention::route_of(const std::string& full, std::string* name) const {
  for (const Route& route : routes_) {
    if (!full.starts_with(route.names)) continue;
    std::string_view rest = std::string_view(full).substr(route.names.size());
    // Session names never hold '/': such a key belongs to a longer route.
    if (rest.empty() || rest.find('/') != std::string_view::npos) continue;
    if (name) *name = std::string(rest);
    return &route;
  }
  return nullptr;
}

// --- the sweeper --------------------------------------------------------------------------

Proc Retention::sweep_loop(Process& self) {
  auto next_sweep = steady_now();
  for (;;) {
    const auto now = steady_now();
    std::unordered_set<std::string> recorded;
    bool swept = false;
    if (records_ && enabled() && now >= next_sweep) {
      co_await sweep(self, recorded);
      next_sweep = now + sweep_interval_;
      swept = true;
    } else if (records_ && !enabled()) {
      co_await drop_records(self);
    }
    // After the sweep, so that /metrics shows what it erased.
    co_await census(self, swept ? &recorded : nullptr);
    passes_.fetch_add(1);
    co_await self.sleep_for(census_interval_);
  }
}

Task<> Retention::sweep(Process& self, std::unordered_set<std::string>& recorded) {
  const std::int64_t now = now_ms();
  std::vector<std::string> expired;
  ListOptions page{.cursor = {}, .limit = 256};
  do {
    auto listed = co_await records_->list(self, use_prefix_, page);
    if (!listed) {
      warn("cannot list the use records", listed.error());
      co_return;
    }
    for (const Item& item : listed.value().items) {
      std::string full = item.key.substr(use_prefix_.size());
      if (!route_of(full)) continue;  // not a route of this gateway: not ours to judge
      recorded.insert(full);
      auto last = parse_ms(item.value);
      if (!last) {
        record_use(full);  // not a time: its period starts now
        continue;
      }
      if (is_running(full) || rt_.registry().whereis(full)) {
        // A process that dies without writing its stop record (SIGKILL)
        // leaves a record at most one interval old.
        if (now - *last >= to_ms(sweep_interval_)) record_use(full);
        continue;
      }
      if (now - *last >= to_ms(retention_)) expired.push_back(std::move(full));
    }
    page.cursor = std::move(listed.value().next_cursor);
  } while (!page.cursor.empty());
  for (const std::string& full : expired) co_await erase_name(self, full);
}

Task<> Retention::erase_name(Process& self, const std::string& full) {
  std::string name;
  const Route* route = route_of(full, &name);
  if (!route || rt_.registry().whereis(full)) co_return;
  if (route->alarms && route->alarms->get(name)) co_return;  // an alarm will use it
  if (!claim(full)) co_return;                               // it started meanwhile
  Claim held(*this, full);
  // No incarnation can start now; one may have run since the listing.
  auto record = co_await records_->get(self, use_prefix_ + full);
  if (!record || !record.value()) co_return;
  auto last = parse_ms(record.value()->value);
  if (!last || now_ms() - *last < to_ms(retention_)) co_return;
  if (alarm_store_) {
    // An alarm kept in the store and not loaded yet (the gateway just
    // started) is a use to come as well; one that is not a time is dropped.
    auto alarm = co_await alarm_store_->get(self, alarm_prefix_ + full);
    if (!alarm) co_return;
    if (alarm.value()) {
      if (parse_ms(alarm.value()->value)) co_return;
      auto dropped = co_await alarm_store_->del(self, alarm_prefix_ + full);
      if (!dropped) co_return;
    }
  }
  if (actors_) {
    auto erased = co_await erase_actor(self, *actors_, full);
    if (!erased) {
      warn(("cannot erase the state of " + full).c_str(), erased.error());
      co_return;  // the record stays: the next sweep tries again
    }
  }
  auto dropped = co_await records_->del(self, use_prefix_ + full);
  if (!dropped) {
    warn(("cannot delete the use record of " + full).c_str(), dropped.error());
    co_return;
  }
  erased_.fetch_add(1);
}

Task<> Retention::census(Process& self, const std::unordered_set<std::string>* recorded) {
  if (!actors_) co_return;
  ActorCensus census(*actors_, 256);
  std::vector<std::string> adopt;
  for (;;) {
    auto more = co_await census.next(self);
    if (!more) {
      warn("cannot count the stored state", more.error());
      co_return;  // /metrics keeps the last complete census
    }
    if (!more.value()) break;
    if (!recorded || !records_) continue;
    for (const Item& item : census.items()) {
      auto actor = head_actor(*actors_, item.key);
      // State from before retention was on: its period starts now.
      if (actor && route_of(*actor) && !recorded->contains(*actor)) record_use(*actor);
    }
  }
  stored_keys_.store(census.totals().keys);
  stored_bytes_.store(census.totals().bytes);
}

Task<> Retention::drop_records(Process& self) {
  ListOptions page{.cursor = {}, .limit = 256};
  do {
    auto listed = co_await records_->list(self, use_prefix_, page);
    if (!listed) co_return;  // tried again at the next census
    std::vector<WriteOp> dels;
    for (const Item& item : listed.value().items)
      if (route_of(item.key.substr(use_prefix_.size()))) dels.push_back(WriteOp::del(item.key));
    if (!dels.empty()) {
      auto deleted = co_await records_->batch(self, std::move(dels));
      if (!deleted) co_return;
    }
    page.cursor = std::move(listed.value().next_cursor);
  } while (!page.cursor.empty());
}

// --- an incarnation's use -------------------------------------------------------------------

Task<> UseScope::enter(Process& self) {
  while (!retention_.try_enter(name_, self.self())) {
    // Erased meanwhile: this incarnation starts from the initial state.
    co_await self.receive(
        when([this](const ErasureDone& done) { return done.name == name_; }, [](ErasureDone&) {}));
  }
  entered_ = true;
  retention_.record_use(name_);
}

UseScope::~UseScope() {
  if (!entered_) return;
  retention_.record_use(name_);  // posted before leave(): read after it by a later claim
  retention_.leave(name_);
}

}  // namespace troupe::detail
