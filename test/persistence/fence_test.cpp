// PersistentState with a store-checked fence (PersistentStateOptions::fence),
// on a FileStore and on a real redis-server: a zombie owner of a name, paused
// past its lease, cannot write once a newer owner raised the name's fence,
// even though the newer owner has written nothing yet.
#include <future>

#include "test/persistence/support.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n)
};
struct Go {};

const std::string fence_key = "fence/chat/lobby";

PersistentStateOptions fenced_by(std::uint64_t token) {
  return {.fence = StoreFence{fence_key, token}};
}

// The zombie scenario, on any store.
void zombie_cannot_write_after_a_newer_owner_raised_the_fence(StoreEnv& env) {
  // Owner Z claims the name with token 1: raises the fence, loads, commits.
  CHECK_TRUE(env.batch({WriteOp::fence(fence_key, 1)}).ok());
  std::promise<void> committed;
  bool returned = false;
  Pid zombie = env.rt.spawn([&](Process& self) -> Proc {
    PersistentState<Count> state(*env.actors, "chat/lobby", {}, fenced_by(1));
    co_await state.load(self);
    state.mutate().n = 5;
    co_await state.commit_or_exit(self);
    committed.set_value();
    co_await self.receive<Go>();  // paused past its lease
    state.mutate().n = 666;
    co_await state.commit(self);  // must not return: the name has a newer owner
    returned = true;
  });
  CHECK(committed.get_future().wait_for(10s) == std::future_status::ready);
  auto head_before = env.get(env.actors->head_key("chat/lobby"));
  CHECK_TRUE(head_before.ok() && head_before.value().has_value());

  // A newer owner claims the name with token 2 and raises the fence: nothing else.
  CHECK_TRUE(env.batch({WriteOp::fence(fence_key, 2)}).ok());

  // Z wakes up and writes: refused by the fence, it exits as fenced.
  std::optional<ExitReason> reason;
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    Ref ref = self.monitor(zombie);
    self.send(zombie, Go{});
    reason = co_await self.receive(
        when([ref](const Down& d) { return d.ref == ref; }, [](Down& d) { return d.reason; }));
  }));
  CHECK_FALSE(returned);
  CHECK(reason.has_value());
  const std::string text = to_string(*reason);
  check_contains(text, "stale incarnation of actor 'chat/lobby' fenced");
  check_contains(text, "'fence/chat/lobby' is at 2, this writer holds 1");
  // Not the compare-and-set path: nobody else wrote the head.
  CHECK_TEXT(text.find("another incarnation") == std::string::npos, text.c_str());

  // The stored snapshot is the one Z committed while it owned the name.
  auto head_after = env.get(env.actors->head_key("chat/lobby"));
  CHECK_TRUE(head_after.ok() && head_after.value().has_value());
  UNSIGNED_LONGLONGS_EQUAL(head_before.value()->revision, head_after.value()->revision);
  CHECK(head_before.value()->value == head_after.value()->value);
  auto fence = env.get(fence_key);
  CHECK_TRUE(fence.ok() && fence.value().has_value());
  STRCMP_EQUAL("2", fence.value()->value.c_str());

  // The newer owner, holding the current fence, loads Z's last state and writes.
  long loaded = -1;
  Revision written = 0;
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env.actors, "chat/lobby", {}, fenced_by(2));
    co_await state.load(self);
    loaded = state->n;
    state.mutate().n = 7;
    written = co_await state.commit_or_exit(self);
  }));
  LONGS_EQUAL(5, loaded);
  UNSIGNED_LONGLONGS_EQUAL(head_before.value()->revision + 1, written);
}

// A write whose fence is at the stored token, or above it, goes through
// (and raises the key when above).
void writes_with_the_current_or_a_higher_fence_succeed(StoreEnv& env) {
  CHECK_TRUE(env.batch({WriteOp::fence(fence_key, 3)}).ok());
  Revision first = 0, second = 0;
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env.actors, "chat/lobby", {}, fenced_by(3));
    co_await state.load(self);
    state.mutate().n = 1;
    first = co_await state.commit_or_exit(self);
  }));
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env.actors, "chat/lobby", {}, fenced_by(4));
    co_await state.load(self);
    state.mutate().n = 2;
    second = co_await state.commit_or_exit(self);
  }));
  UNSIGNED_LONGLONGS_EQUAL(1, first);
  UNSIGNED_LONGLONGS_EQUAL(2, second);
  auto fence = env.get(fence_key);
  CHECK_TRUE(fence.ok() && fence.value().has_value());
  STRCMP_EQUAL("4", fence.value()->value.c_str());
}

test::RedisServer& shared_server() {
  static test::RedisServer server;
  if (!server.running() && !server.start()) FAIL("redis-server did not start");
  return server;
}

}  // namespace

TEST_GROUP(FencedStateOnFiles) {
  TempDir dir;
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    env = StoreEnv::file(dir.path());
  }
  void teardown() override {
    env.reset();
  }
};

TEST(FencedStateOnFiles, ZombieCannotWriteAfterANewerOwnerRaisedTheFence) {
  zombie_cannot_write_after_a_newer_owner_raised_the_fence(*env);
}

TEST(FencedStateOnFiles, WritesWithTheCurrentOrAHigherFenceSucceed) {
  writes_with_the_current_or_a_higher_fence_succeed(*env);
}

TEST_GROUP(FencedStateOnRedis) {
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    shared_server().command({"FLUSHALL"});
    StoreResult<void> connected;
    env = StoreEnv::redis(shared_server().url(), {}, &connected);
    if (!connected) FAIL(to_string(connected.error()).c_str());
  }
  void teardown() override {
    env.reset();
  }
};

TEST(FencedStateOnRedis, ZombieCannotWriteAfterANewerOwnerRaisedTheFence) {
  zombie_cannot_write_after_a_newer_owner_raised_the_fence(*env);
}

TEST(FencedStateOnRedis, WritesWithTheCurrentOrAHigherFenceSucceed) {
  writes_with_the_current_or_a_higher_fence_succeed(*env);
}
