#pragma once
// AwaitableStore: processes on any scheduler co_await a Store that lives on
// one scheduler's loop (a Store is bound to one loop and its thread). Each
// operation is posted to that loop; its callback answers the waiting
// process with runtime.reply, so no scheduler ever blocks.
//
//   AwaitableStore store(rt, 0, file_store);   // file_store runs on rt.loop(0)
//   auto entry = co_await store.get(self, "counter/a");
//
// Members are for processes (co_await them from the process passed as
// `self`); the client itself may be shared by every process. An operation
// that gets no answer within `timeout` fails with StoreErrc::unavailable
// (its late answer is discarded).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

class TROUPE_EXPORT AwaitableStore {
 public:
  AwaitableStore(Runtime& rt, unsigned scheduler, Store& store)
      : rt_(rt), scheduler_(scheduler), store_(store) {}

  Task<StoreResult<std::optional<Entry>>> get(Process& self, std::string key,
                                              Duration timeout = default_call_timeout);
  Task<StoreResult<Revision>> put(Process& self, std::string key, std::string value,
                                  Duration timeout = default_call_timeout);
  Task<StoreResult<bool>> del(Process& self, std::string key,
                              Duration timeout = default_call_timeout);
  Task<StoreResult<void>> compare_and_put(Process& self, std::string key, std::string value,
                                          Revision revision,
                                          Duration timeout = default_call_timeout);
  Task<StoreResult<void>> batch(Process& self, std::vector<WriteOp> ops,
                                Duration timeout = default_call_timeout);
  Task<StoreResult<Page>> list(Process& self, std::string prefix, ListOptions options = {},
                               Duration timeout = default_call_timeout);
  Task<StoreResult<std::vector<CasOutcome>>> compare_and_put_many(
      Process& self, std::vector<CasWrite> writes, Duration timeout = default_call_timeout);

  // Runs fn(store) on the store's loop thread, later. Any thread. For work
  // that completes by a message instead of an awaited reply (the snapshot
  // writer of PersistentState sends its owner a message from the callback).
  void post(std::function<void(Store&)> fn);

  Runtime& runtime() const { return rt_; }
  unsigned scheduler() const { return scheduler_; }

  // Runs `op(store, done)` on the store's loop and awaits done's result.
  template <class T, class Op>
  Task<StoreResult<T>> run(Process& self, Op op, Duration timeout);

  Store& store() { return store_; }

 private:
  Runtime& rt_;
  unsigned scheduler_;
  Store& store_;
};

template <class T, class Op>
Task<StoreResult<T>> AwaitableStore::run(Process& self, Op op, Duration timeout) {
  Ref ref = self.expect_reply();
  ReplyTo to{self.self(), ref};
  Runtime* rt = &rt_;
  Store* store = &store_;
  rt_.post(scheduler_, [rt, store, to, op = std::move(op)]() mutable {
    op(*store, [rt, to](StoreResult<T> result) { rt->reply(to, std::move(result)); });
  });
  auto answer = co_await self.await_reply<StoreResult<T>>(ref, timeout);
  if (answer.ok()) co_return std::move(answer.value());
  co_return unexpected(
      StoreError{StoreErrc::unavailable, "store did not answer: " + to_string(answer.error())});
}

}  // namespace troupe
