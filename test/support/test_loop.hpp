#pragma once
// Drives a private uv loop from a test: runs it until a store's callback has
// fired, with a deadline so that a lost callback fails the test instead of
// hanging it.

#include <CppUTest/TestHarness.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "persist/store.hpp"

namespace troupe::test {

using namespace std::chrono_literals;

class TestLoop {
 public:
  TestLoop();
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until done() holds; false if the deadline passed first.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s);

  // Issues an operation and runs the loop until its callback ran.
  template <class T>
  StoreResult<T> call(const std::function<void(StoreCallback<T>)>& issue,
                      std::chrono::milliseconds deadline = 10s) {
    std::optional<StoreResult<T>> result;
    issue([&result](StoreResult<T> r) { result.emplace(std::move(r)); });
    if (!run_until([&] { return result.has_value(); }, deadline)) {
      FAIL("a store callback did not run before the deadline");
    }
    return std::move(*result);
  }

  // Closes the store and runs the loop until its close callback ran.
  void close(Store& store);

 private:
  uv_loop_t loop_;
};

// Synchronous calls on a Store for tests that read like the semantics.
class SyncStore {
 public:
  SyncStore(Store& store, TestLoop& loop) : store_(store), loop_(loop) {}

  StoreResult<std::optional<Entry>> get(const std::string& key);
  StoreResult<Revision> put(const std::string& key, const std::string& value);
  StoreResult<bool> del(const std::string& key);
  StoreResult<Page> list(const std::string& prefix, ListOptions options = {});
  StoreResult<void> batch(std::vector<WriteOp> ops);
  StoreResult<void> compare_and_put(const std::string& key, const std::string& value,
                                    Revision revision);
  StoreResult<std::vector<CasOutcome>> compare_and_put_many(std::vector<CasWrite> writes);

  // Every item under prefix, following cursors page by page.
  std::vector<Item> list_all(const std::string& prefix, std::size_t page_size);

  Store& store() { return store_; }
  TestLoop& loop() { return loop_; }

 private:
  Store& store_;
  TestLoop& loop_;
};

}  // namespace troupe::test
