#pragma once
// StoreConnection: the application's store as a child of its supervisor, so
// that the store is opened before the children that use it start, and closed
// after they stopped (a supervisor stops its children in reverse order).
//
//   troupe::StoreConnection store(rt, troupe::open_file_store({.directory = "data"}));
//   troupe::Gateway gateway(rt, {.persistence = &store.persistence()});
//   rt.start(troupe::SupervisorSpec{
//       .strategy = troupe::rest_for_one,
//       .children = {store.child_spec(), gateway.child_spec()}});
//   rt.run();
//
// The child's process opens the store on the loop of its scheduler and its
// start succeeds once the store is open (or fails with the store's error:
// a directory that cannot be locked, Redis not answering). When its
// supervisor stops it, it closes the store and ends. Killed or crashed, it
// is started again like any child: the new incarnation closes what the old
// one left open and opens a fresh connection.
//
// persistence() and store() exist from construction on, and stay the same
// objects across restarts: give them to the gateway and to servers before
// the tree starts. While no store is open (before the child started, after
// it stopped, between incarnations) their operations fail with
// StoreErrc::unavailable.
//
// Threads: construct, child_spec, persistence and store from any one thread;
// is_open from any. Destroy it after its child stopped, before the runtime
// shuts down (the destructor closes a store still open, on its loop).

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "persist/awaitable_store.hpp"
#include "persist/file_store.hpp"
#include "persist/persistence.hpp"
#include "persist/redis_store.hpp"
#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/runtime.hpp"
#include "supervisors/spec.hpp"

namespace troupe {

// How to make and open one kind of store.
struct StoreOpener {
  std::string what;  // names it in errors: "file store in ./data", "redis://host:6379/0"
  // On the loop's thread: makes a store on `loop`, starts opening it, and
  // calls opened(store, result) once, later: the store (null if none could
  // be made) and whether it opened. The caller closes it either way.
  std::function<void(uv_loop_t* loop,
                     std::function<void(std::unique_ptr<Store>, StoreResult<void>)> opened)>
      open;
  // The backend's key rules (Store::key_error) without a store. Any thread.
  std::function<std::optional<StoreError>(std::string_view key)> key_error;
  // Every machine that reaches it sees the same data (Redis; not a
  // FileStore): what the nodes of a cluster must share (docs/cluster.md).
  bool shared = false;
};

// A FileStore in options.directory (created if missing).
TROUPE_EXPORT StoreOpener open_file_store(FileStoreOptions options);
// A RedisStore connected to options.url.
TROUPE_EXPORT StoreOpener open_redis_store(RedisStoreOptions options);

namespace detail {
class StoreSlot;
}

class TROUPE_EXPORT StoreConnection {
 public:
  // `scheduler`: the loop the store runs on. By default a scheduler of its
  // own (Runtime::add_schedulers(1); on an embedded runtime, its one loop),
  // so that a process that computes never delays the store's I/O.
  StoreConnection(Runtime& rt, StoreOpener opener, std::optional<unsigned> scheduler = {},
                  PersistenceOptions options = {});
  ~StoreConnection();
  StoreConnection(const StoreConnection&) = delete;
  StoreConnection& operator=(const StoreConnection&) = delete;

  // The child: a worker that opens the store in its start and closes it when
  // stopped (within `shutdown`, then it is killed; the store closes with
  // what was issued to it before).
  ChildSpec child_spec(std::string id = "store", Shutdown shutdown = std::chrono::seconds(10));

  Persistence& persistence() { return *persistence_; }
  AwaitableStore& store() { return *client_; }
  // Its opener's: "file store in ./data", "Redis at redis://...".
  const std::string& what() const { return opener_.what; }
  bool shared() const { return opener_.shared; }
  // A store is open in it now. Any thread; a snapshot.
  bool is_open() const { return open_.load(std::memory_order_acquire); }

 private:
  Proc serve(Process& self, InitAck ack);

  Runtime& rt_;
  unsigned scheduler_;
  StoreOpener opener_;
  std::unique_ptr<detail::StoreSlot> slot_;
  std::unique_ptr<AwaitableStore> client_;
  std::unique_ptr<Persistence> persistence_;
  std::atomic<bool> open_{false};
};

}  // namespace troupe
