// Actors that resume their last committed state: a supervised counter
// crashed 1000 times while being incremented ends with exactly the
// acknowledged increments, on FileStore and on a real redis-server; a stale
// incarnation cannot overwrite newer state; a corrupt snapshot fails the
// load with an error naming the key.

#include "persist/persistent_state.hpp"

#include <CppUTest/TestHarness.h>

#include <future>
#include <memory>
#include <msgpack.hpp>

#include "persist/file_store.hpp"
#include "persist/redis_store.hpp"
#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"
#include "test/persist/redis_server_fixture.hpp"
#include "test/persist/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n);
};
struct Incr {};
struct Crash {};

// Creates a store on scheduler 0's loop thread and waits until it is open.
template <class Make>
std::unique_ptr<Store> open_on_loop(Runtime& rt, Make make) {
  std::promise<std::unique_ptr<Store>> opened;
  rt.post(0, [&] {
    make(rt.loop(0), [&](std::unique_ptr<Store> store, StoreResult<void> r) {
      opened.set_value(r.ok() ? std::move(store) : nullptr);
    });
  });
  auto f = opened.get_future();
  return f.wait_for(10s) == std::future_status::ready ? f.get() : nullptr;
}

void close_on_loop(Runtime& rt, Store& store) {
  std::promise<void> closed;
  rt.post(0, [&] { store.close([&] { closed.set_value(); }); });
  closed.get_future().wait_for(10s);
}

// The counter: acknowledges an increment only once it is committed.
Proc counter(Process& self, StoreClient* store) {
  PersistentState<Count> state(*store, "counters/a");
  if (auto loaded = co_await state.load(self); !loaded)
    self.exit(ExitReason::error(loaded.error().to_string()));
  for (;;) {
    std::optional<ReplyTo> incr;
    co_await self.receive([&](Request<Incr>& r) { incr = r.reply_to; },
                          [](const Crash&) { throw std::runtime_error("crash on request"); });
    state.value().n += 1;
    co_await state.commit_or_exit(self);
    self.reply(*incr, state.value().n);
  }
}

// Runs 1000 crash cycles of two increments each; returns {acked, stored}.
std::pair<long, long> crash_a_counter_1000_times(Runtime& rt, StoreClient& client) {
  long acked = 0, stored = -1;
  set_supervisor_log(nullptr);
  rt.spawn([&](Process& self) -> Proc {
    SupervisorSpec spec{.strategy = one_for_one,
                        .intensity = 1'000'000,
                        .period = 1s,
                        .children = {ChildSpec{.id = "counter",
                                               .start = process_child([&client](Process& p) {
                                                 return counter(p, &client);
                                               }),
                                               .name = "counter"}}};
    auto sup = co_await start_supervisor(self, spec);
    Registry& registry = self.runtime().registry();
    for (int cycle = 0; cycle < 1000; ++cycle) {
      for (int i = 0; i < 2;) {
        auto pid = co_await registry.wait_for(self, "counter", 5s);
        if (!pid) break;
        auto r = co_await self.call<long>(pid.value(), Incr{}, 5s);
        if (r) {
          ++acked;
          ++i;
        }  // else it crashed before handling it: not acknowledged, try again
      }
      self.send(registry.whereis("counter"), Crash{});
    }
    // A fresh reader sees what the last incarnation committed.
    PersistentState<Count> check(client, "counters/a");
    if (co_await check.load(self)) stored = check.value().n;
    self.exit(sup.value(), troupe::shutdown);
  });
  CHECK(rt.run_for(120s));
  set_supervisor_log(log_to_stderr);
  return {acked, stored};
}

}  // namespace

TEST_GROUP(PersistentState){};

TEST(PersistentState, CounterCrashed1000TimesKeepsEveryAcknowledgedIncrementOnFileStore) {
  TempDir dir;
  Runtime rt({.schedulers = 2});
  auto store = open_on_loop(rt, [&](uv_loop_t* loop, auto done) {
    auto* fs = new FileStore(loop, {.directory = dir.path()});
    fs->open([fs, done](StoreResult<void> r) { done(std::unique_ptr<Store>(fs), r); });
  });
  CHECK(store != nullptr);
  StoreClient client(rt, 0, *store);
  auto [acked, stored] = crash_a_counter_1000_times(rt, client);
  LONGS_EQUAL(2000, acked);
  LONGS_EQUAL(acked, stored);
  close_on_loop(rt, *store);
}

TEST(PersistentState, CounterCrashed1000TimesKeepsEveryAcknowledgedIncrementOnRedis) {
  RedisServer redis;
  CHECK(redis.start());
  Runtime rt({.schedulers = 2});
  auto store = open_on_loop(rt, [&](uv_loop_t* loop, auto done) {
    auto created = RedisStore::create(loop, {.url = redis.url()});
    if (!created) return done(nullptr, failure(created.error()));
    RedisStore* rs = created.value().release();
    rs->connect([rs, done](StoreResult<void> r) { done(std::unique_ptr<Store>(rs), r); });
  });
  CHECK(store != nullptr);
  StoreClient client(rt, 0, *store);
  auto [acked, stored] = crash_a_counter_1000_times(rt, client);
  LONGS_EQUAL(2000, acked);
  LONGS_EQUAL(acked, stored);
  close_on_loop(rt, *store);
}

TEST(PersistentState, AStaleIncarnationCannotOverwriteNewerState) {
  TempDir dir;
  Runtime rt({.schedulers = 1});
  auto store = open_on_loop(rt, [&](uv_loop_t* loop, auto done) {
    auto* fs = new FileStore(loop, {.directory = dir.path()});
    fs->open([fs, done](StoreResult<void> r) { done(std::unique_ptr<Store>(fs), r); });
  });
  CHECK(store != nullptr);
  StoreClient client(rt, 0, *store);
  StoreErrc stale_error = StoreErrc::io_error;
  long final_n = 0;
  rt.spawn([&](Process& self) -> Proc {
    PersistentState<Count> zombie(client, "counters/z"), fresh(client, "counters/z");
    (void)co_await zombie.load(self);
    (void)co_await fresh.load(self);
    fresh.value().n = 10;
    (void)co_await fresh.commit(self);  // the newer incarnation wins revision 1
    zombie.value().n = 99;
    auto r = co_await zombie.commit(self);  // also writes revision 1: refused
    if (!r) stale_error = r.error().code;
    PersistentState<Count> check(client, "counters/z");
    (void)co_await check.load(self);
    final_n = check.value().n;
  });
  CHECK(rt.run_for(20s));
  CHECK(stale_error == StoreErrc::conflict);
  LONGS_EQUAL(10, final_n);
  close_on_loop(rt, *store);
}

TEST(PersistentState, ACorruptSnapshotFailsTheLoadNamingTheKey) {
  TempDir dir;
  Runtime rt({.schedulers = 1});
  auto store = open_on_loop(rt, [&](uv_loop_t* loop, auto done) {
    auto* fs = new FileStore(loop, {.directory = dir.path()});
    fs->open([fs, done](StoreResult<void> r) { done(std::unique_ptr<Store>(fs), r); });
  });
  CHECK(store != nullptr);
  StoreClient client(rt, 0, *store);
  std::string error;
  rt.spawn([&](Process& self) -> Proc {
    (void)co_await client.put(self, "counters/bad", "not a snapshot at all");
    PersistentState<Count> state(client, "counters/bad");
    auto r = co_await state.load(self);
    if (!r) error = r.error().to_string();
  });
  CHECK(rt.run_for(20s));
  CHECK(error.find("corrupt") != std::string::npos);
  CHECK(error.find("counters/bad") != std::string::npos);
  close_on_loop(rt, *store);
}
