#include "persist/awaitable_store.hpp"

namespace troupe {

Task<StoreResult<std::optional<Entry>>> AwaitableStore::get(Process& self, std::string key,
                                                            Duration timeout) {
  co_return co_await run<std::optional<Entry>>(
      self,
      [key = std::move(key)](Store& s, StoreCallback<std::optional<Entry>> done) mutable {
        s.get(std::move(key), std::move(done));
      },
      timeout);
}

Task<StoreResult<Revision>> AwaitableStore::put(Process& self, std::string key, std::string value,
                                                Duration timeout) {
  co_return co_await run<Revision>(
      self,
      [key = std::move(key), value = std::move(value)](Store& s,
                                                       StoreCallback<Revision> done) mutable {
        s.put(std::move(key), std::move(value), std::move(done));
      },
      timeout);
}

Task<StoreResult<bool>> AwaitableStore::del(Process& self, std::string key, Duration timeout) {
  co_return co_await run<bool>(
      self,
      [key = std::move(key)](Store& s, StoreCallback<bool> done) mutable {
        s.del(std::move(key), std::move(done));
      },
      timeout);
}

Task<StoreResult<void>> AwaitableStore::compare_and_put(Process& self, std::string key,
                                                        std::string value, Revision revision,
                                                        Duration timeout) {
  co_return co_await run<void>(
      self,
      [key = std::move(key), value = std::move(value), revision](Store& s,
                                                                 StoreCallback<void> done) mutable {
        s.compare_and_put(std::move(key), std::move(value), revision, std::move(done));
      },
      timeout);
}

Task<StoreResult<void>> AwaitableStore::batch(Process& self, std::vector<WriteOp> ops,
                                              Duration timeout) {
  co_return co_await run<void>(
      self,
      [ops = std::move(ops)](Store& s, StoreCallback<void> done) mutable {
        s.batch(std::move(ops), std::move(done));
      },
      timeout);
}

Task<StoreResult<Page>> AwaitableStore::list(Process& self, std::string prefix, ListOptions options,
                                             Duration timeout) {
  co_return co_await run<Page>(
      self,
      [prefix = std::move(prefix), options](Store& s, StoreCallback<Page> done) mutable {
        s.list(std::move(prefix), std::move(options), std::move(done));
      },
      timeout);
}

Task<StoreResult<std::vector<CasOutcome>>> AwaitableStore::compare_and_put_many(
    Process& self, std::vector<CasWrite> writes, Duration timeout) {
  co_return co_await run<std::vector<CasOutcome>>(
      self,
      [writes = std::move(writes)](Store& s, StoreCallback<std::vector<CasOutcome>> done) mutable {
        s.compare_and_put_many(std::move(writes), std::move(done));
      },
      timeout);
}

void AwaitableStore::post(std::function<void(Store&)> fn) {
  Store* store = &store_;
  rt_.post(scheduler_, [store, fn = std::move(fn)] { fn(*store); });
}

}  // namespace troupe
