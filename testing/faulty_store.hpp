#pragma once
// FaultyStore: a Store that wraps another and misbehaves on cue, for tests
// of what actors do when storage fails (troupe::testing).
//
//   MemoryStore memory(t.loop());
//   FaultyStore store(t.loop(), memory);
//   store.inject(StoreFault::lose_reply);          // the next write is applied, its reply lost
//   store.inject(StoreFault::fail, 3, StoreOps::all, StoreErrc::io_error);
//   store.outage(StoreFault::time_out);            // nothing answers until clear()
//
// Faults are planned in order: each inject() covers the next `count`
// operations it selects, after the earlier plans are used up; an outage
// covers every operation it selects until clear(). Loop thread only, like
// every Store; callbacks run on a later loop turn, never inside the call.

#include <uv.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "persist/detail/deferred.hpp"
#include "persist/store.hpp"

namespace troupe::testing {

enum class StoreFault {
  fail,        // not applied; the caller gets the error at once
  time_out,    // not applied; answered (unavailable) only at release_held() or
               // close(): a slow backend. Meanwhile the caller's own timeout
               // decides (commit, AwaitableStore); background writes wait for
               // the answer, as the Store contract lets them (every operation
               // is answered once: a real store's own timeout answers it), so
               // release what a test held.
  lose_reply,  // applied; the caller gets `unavailable`, as if the link
               // dropped after the write: the ambiguous case
};

enum class StoreOps {
  writes,  // put, del, batch, compare_and_put(_many)
  reads,   // get, list
  all,
};

class FaultyStore final : public Store {
 public:
  // Wraps `inner` (not owned; it must outlive this store), on `loop`.
  FaultyStore(uv_loop_t* loop, Store& inner);

  // The next `count` operations that `ops` selects get `fault`; a failed
  // or lost one reports `code` (time_out reports unavailable when released).
  void inject(StoreFault fault, std::size_t count = 1, StoreOps ops = StoreOps::writes,
              StoreErrc code = StoreErrc::unavailable);
  // Every operation `ops` selects gets `fault` until clear().
  void outage(StoreFault fault, StoreOps ops = StoreOps::all,
              StoreErrc code = StoreErrc::unavailable);
  // Drops every plan and outage: operations pass through again.
  void clear();
  // Answers every operation time_out held back, with `unavailable` (with
  // `closed` once close() was called, which releases them too).
  void release_held();

  std::size_t operations() const { return operations_; }  // issued, faulty or not
  std::size_t faults() const { return faults_; }          // that got a fault
  std::size_t held() const { return held_.size(); }       // time_out, not answered yet

  void get(std::string key, StoreCallback<std::optional<Entry>> done) override;
  void put(std::string key, std::string value, StoreCallback<Revision> done) override;
  void del(std::string key, StoreCallback<bool> done) override;
  void list(std::string prefix, ListOptions options, StoreCallback<Page> done) override;
  void batch(std::vector<WriteOp> ops, StoreCallback<void> done) override;
  void compare_and_put(std::string key, std::string value, Revision revision,
                       StoreCallback<void> done) override;
  void compare_and_put_many(std::vector<CasWrite> writes,
                            StoreCallback<std::vector<CasOutcome>> done) override;
  void close(std::function<void()> done) override;
  std::optional<StoreError> key_error(std::string_view key) const override {
    return inner_.key_error(key);
  }

 private:
  struct Plan {
    StoreFault fault;
    std::size_t left;  // max: an outage
    StoreOps ops;
    StoreErrc code;
  };
  std::optional<Plan> next_fault(bool write);
  // Passes the operation to `forward(callback)` or applies the fault.
  template <class T, class Forward>
  void run(bool write, StoreCallback<T> done, Forward forward);

  Store& inner_;
  detail::Deferred deferred_;
  std::deque<Plan> plans_;
  std::vector<std::function<void()>> held_;
  std::size_t operations_ = 0;
  std::size_t faults_ = 0;
  bool closing_ = false;
};

}  // namespace troupe::testing
