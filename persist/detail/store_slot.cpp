#include "persist/detail/store_slot.hpp"

#include <utility>
#include <vector>

namespace troupe::detail {

StoreSlot::StoreSlot(uv_loop_t* loop, StoreOpener opener,
                     std::function<void(std::function<void()>)> later)
    : loop_(loop), opener_(std::move(opener)), later_(std::move(later)) {}

StoreSlot::~StoreSlot() = default;

void StoreSlot::open(StoreCallback<void> done) {
  close([this, done = std::move(done)]() mutable {
    opener_.open(loop_, [this, done = std::move(done)](std::unique_ptr<Store> store,
                                                       StoreResult<void> opened) mutable {
      store_ = std::move(store);
      if (opened) return done({});
      // A store that did not open is closed too before it is let go.
      close([done = std::move(done), error = opened.error()] { done(unexpected(error)); });
    });
  });
}

void StoreSlot::close(std::function<void()> done) {
  if (!store_) return later_(std::move(done));
  // Out of the slot at once: operations issued from now on are refused
  // rather than reaching a closing store.
  Store* closing = store_.get();
  closing_.push_back(std::move(store_));
  closing->close([this, closing, done = std::move(done)] {
    // Destroyed on a later turn, once this callback has returned into it.
    later_([this, closing, done] {
      std::erase_if(closing_, [closing](const auto& s) { return s.get() == closing; });
      done();
    });
  });
}

template <class T>
void StoreSlot::refuse(StoreCallback<T> done) {
  later_([done = std::move(done), what = opener_.what] {
    done(unexpected(StoreError{StoreErrc::unavailable, what + ": the store is not open"}));
  });
}

void StoreSlot::get(std::string key, StoreCallback<std::optional<Entry>> done) {
  if (!store_) return refuse(std::move(done));
  store_->get(std::move(key), std::move(done));
}

void StoreSlot::put(std::string key, std::string value, StoreCallback<Revision> done) {
  if (!store_) return refuse(std::move(done));
  store_->put(std::move(key), std::move(value), std::move(done));
}

void StoreSlot::del(std::string key, StoreCallback<bool> done) {
  if (!store_) return refuse(std::move(done));
  store_->del(std::move(key), std::move(done));
}

void StoreSlot::list(std::string prefix, ListOptions options, StoreCallback<Page> done) {
  if (!store_) return refuse(std::move(done));
  store_->list(std::move(prefix), std::move(options), std::move(done));
}

void StoreSlot::batch(std::vector<WriteOp> ops, StoreCallback<void> done) {
  if (!store_) return refuse(std::move(done));
  store_->batch(std::move(ops), std::move(done));
}

void StoreSlot::compare_and_put(std::string key, std::string value, Revision revision,
                                StoreCallback<void> done) {
  if (!store_) return refuse(std::move(done));
  store_->compare_and_put(std::move(key), std::move(value), revision, std::move(done));
}

void StoreSlot::compare_and_put_many(std::vector<CasWrite> writes,
                                     StoreCallback<std::vector<CasOutcome>> done) {
  if (!store_) return refuse(std::move(done));
  store_->compare_and_put_many(std::move(writes), std::move(done));
}

std::optional<StoreError> StoreSlot::key_error(std::string_view key) const {
  return opener_.key_error ? opener_.key_error(key) : Store::key_error(key);
}

}  // namespace troupe::detail
