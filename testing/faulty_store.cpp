#include "testing/faulty_store.hpp"

#include <utility>

namespace troupe::testing {

namespace {

constexpr std::size_t forever = std::numeric_limits<std::size_t>::max();

StoreError injected(StoreErrc code, const char* what) {
  return StoreError{code, std::string("troupe::testing FaultyStore: ") + what};
}

bool selects(StoreOps ops, bool write) {
  return ops == StoreOps::all || (ops == StoreOps::writes) == write;
}

}  // namespace

FaultyStore::FaultyStore(uv_loop_t* loop, Store& inner) : inner_(inner), deferred_(loop) {}

void FaultyStore::inject(StoreFault fault, std::size_t count, StoreOps ops, StoreErrc code) {
  if (count > 0) plans_.push_back({fault, count, ops, code});
}

void FaultyStore::outage(StoreFault fault, StoreOps ops, StoreErrc code) {
  plans_.push_back({fault, forever, ops, code});
}

void FaultyStore::clear() {
  plans_.clear();
}

void FaultyStore::release_held() {
  auto held = std::exchange(held_, {});
  for (auto& answer : held) deferred_.post(std::move(answer));
}

std::optional<FaultyStore::Plan> FaultyStore::next_fault(bool write) {
  for (auto it = plans_.begin(); it != plans_.end(); ++it) {
    if (!selects(it->ops, write)) continue;
    Plan plan = *it;
    if (it->left != forever && --it->left == 0) plans_.erase(it);
    return plan;
  }
  return std::nullopt;
}

template <class T, class Forward>
void FaultyStore::run(bool write, StoreCallback<T> done, Forward forward) {
  ++operations_;
  auto plan = next_fault(write);
  if (!plan) return forward(std::move(done));
  ++faults_;
  switch (plan->fault) {
    case StoreFault::fail:
      deferred_.post([done = std::move(done), code = plan->code] {
        done(unexpected(injected(code, "injected failure")));
      });
      return;
    case StoreFault::time_out:
      held_.push_back([this, done = std::move(done)] {
        done(unexpected(closing_
                            ? injected(StoreErrc::closed, "closed")
                            : injected(StoreErrc::unavailable, "no answer (injected time-out)")));
      });
      return;
    case StoreFault::lose_reply:
      forward(StoreCallback<T>([done = std::move(done), code = plan->code](StoreResult<T>) {
        done(unexpected(injected(code, "the write was applied, its reply lost (injected)")));
      }));
      return;
  }
}

void FaultyStore::get(std::string key, StoreCallback<std::optional<Entry>> done) {
  run(false, std::move(done), [&](auto cb) { inner_.get(std::move(key), std::move(cb)); });
}

void FaultyStore::put(std::string key, std::string value, StoreCallback<Revision> done) {
  run(true, std::move(done),
      [&](auto cb) { inner_.put(std::move(key), std::move(value), std::move(cb)); });
}

void FaultyStore::del(std::string key, StoreCallback<bool> done) {
  run(true, std::move(done), [&](auto cb) { inner_.del(std::move(key), std::move(cb)); });
}

void FaultyStore::list(std::string prefix, ListOptions options, StoreCallback<Page> done) {
  run(false, std::move(done),
      [&](auto cb) { inner_.list(std::move(prefix), std::move(options), std::move(cb)); });
}

void FaultyStore::batch(std::vector<WriteOp> ops, StoreCallback<void> done) {
  run(true, std::move(done), [&](auto cb) { inner_.batch(std::move(ops), std::move(cb)); });
}

void FaultyStore::compare_and_put(std::string key, std::string value, Revision revision,
                                  StoreCallback<void> done) {
  run(true, std::move(done), [&](auto cb) {
    inner_.compare_and_put(std::move(key), std::move(value), revision, std::move(cb));
  });
}

void FaultyStore::compare_and_put_many(std::vector<CasWrite> writes,
                                       StoreCallback<std::vector<CasOutcome>> done) {
  run(true, std::move(done),
      [&](auto cb) { inner_.compare_and_put_many(std::move(writes), std::move(cb)); });
}

void FaultyStore::close(std::function<void()> done) {
  plans_.clear();
  closing_ = true;
  release_held();  // as closed: Deferred::close runs them before done
  deferred_.close(std::move(done));
}

}  // namespace troupe::testing
