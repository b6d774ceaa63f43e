#pragma once
// A runtime with a real store (FileStore in a temporary directory, or a
// RedisStore) on scheduler 0's loop, an AwaitableStore and a Persistence over
// it; and helpers to run a process from the test thread with a time bound.

#include <CppUTest/TestHarness.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "persist/awaitable_store.hpp"
#include "persist/file_store.hpp"
#include "persist/memory_store.hpp"
#include "persist/persistent_map.hpp"
#include "persist/persistent_state.hpp"
#include "persist/redis_store.hpp"
#include "runtime/runtime.hpp"

namespace troupe::test {

using namespace std::chrono_literals;

class StoreEnv {
 public:
  // FileStore in `directory` (created if needed).
  static std::unique_ptr<StoreEnv> file(const std::string& directory,
                                        PersistenceOptions options = {}, bool fsync = true);
  // MemoryStore, for what does not depend on the store's kind.
  static std::unique_ptr<StoreEnv> memory(PersistenceOptions options = {});
  // RedisStore on `url`; `connected` receives the first attempt's outcome.
  static std::unique_ptr<StoreEnv> redis(const std::string& url, PersistenceOptions options = {},
                                         StoreResult<void>* connected = nullptr);
  ~StoreEnv();

  Runtime rt{{.schedulers = 2}};
  std::unique_ptr<Store> store;
  std::unique_ptr<AwaitableStore> client;
  std::unique_ptr<Persistence> actors;

  // Blocking access to the store from the test thread, for setup and checks.
  StoreResult<std::optional<Entry>> get(const std::string& key);
  StoreResult<void> batch(std::vector<WriteOp> ops);

 private:
  StoreEnv() = default;
  void finish(PersistenceOptions options);
};

// Runs body in a new process and waits until it has returned; false if it
// had not by `limit` (or exited instead).
bool run_process(Runtime& rt, std::function<Task<>(Process&)> body, Duration limit = 60s);

// The exit reason of `pid`, once it has exited, within `limit`.
std::optional<ExitReason> wait_exit(Runtime& rt, Pid pid, Duration limit = 10s);

// CHECK that `text` contains `part`, printing both when not.
void check_contains(const std::string& text, const std::string& part);

}  // namespace troupe::test
