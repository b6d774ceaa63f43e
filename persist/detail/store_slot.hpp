#pragma once
// StoreSlot: the Store that StoreConnection's AwaitableStore and Persistence
// see. It forwards every operation to the store opened in it, and fails them
// with StoreErrc::unavailable while none is (a later turn of the loop, as the
// Store contract wants). Internal.
//
// Loop thread only (the Store contract), except key_error, which applies the
// backend's rules without a store.

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/store.hpp"
#include "persist/store_connection.hpp"

namespace troupe::detail {

class StoreSlot final : public Store {
 public:
  // Stores are made on `loop`; `later` runs a function on a later turn of it.
  StoreSlot(uv_loop_t* loop, StoreOpener opener, std::function<void(std::function<void()>)> later);
  ~StoreSlot() override;

  // Closes the store in the slot if there is one, then opens a new one;
  // done(ok) once it is open, done(error) if not (the slot is then empty).
  void open(StoreCallback<void> done);
  // Closes the store in the slot, if any; the slot stays usable (empty).
  void close(std::function<void()> done) override;
  bool has_store() const { return store_ != nullptr; }

  void get(std::string key, StoreCallback<std::optional<Entry>> done) override;
  void put(std::string key, std::string value, StoreCallback<Revision> done) override;
  void del(std::string key, StoreCallback<bool> done) override;
  void list(std::string prefix, ListOptions options, StoreCallback<Page> done) override;
  void batch(std::vector<WriteOp> ops, StoreCallback<void> done) override;
  void compare_and_put(std::string key, std::string value, Revision revision,
                       StoreCallback<void> done) override;
  void compare_and_put_many(std::vector<CasWrite> writes,
                            StoreCallback<std::vector<CasOutcome>> done) override;
  std::optional<StoreError> key_error(std::string_view key) const override;

 private:
  template <class T>
  void refuse(StoreCallback<T> done);

  uv_loop_t* loop_;
  StoreOpener opener_;
  std::function<void(std::function<void()>)> later_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Store>> closing_;
};

}  // namespace troupe::detail
