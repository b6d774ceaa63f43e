// PersistentMap: an actor's own key-value namespace, on a FileStore.
#include "test/persistence/support.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(PersistentMap) {
  TempDir dir;
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    env = StoreEnv::file(dir.path());
  }
  void teardown() override {
    env.reset();
  }
};

TEST(PersistentMap, GetPutDelListAndAtomicBatchInTheActorsOwnNamespace) {
  std::optional<std::string> got, missing;
  std::vector<std::string> keys;
  bool deleted = false;
  bool ok = true;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentMap mine(*env->actors, "rooms/a"), other(*env->actors, "rooms/b");
    ok = ok && (co_await mine.put(self, "msg/1", "hello")).ok();
    ok = ok && (co_await other.put(self, "msg/1", "other room")).ok();
    ok = ok && (co_await mine.batch(self, {MapOp::put("msg/2", "world"), MapOp::put("meta", "m"),
                                           MapOp::del("msg/1")}))
                   .ok();
    got = (co_await mine.get(self, "msg/2")).value();
    missing = (co_await mine.get(self, "msg/1")).value();
    auto page = co_await mine.list(self, "msg/");
    for (auto& item : page.value().items) keys.push_back(item.key + "=" + item.value);
    deleted = (co_await mine.del(self, "meta")).value();
  }));
  CHECK_TRUE(ok);
  CHECK(got == std::optional<std::string>("world"));
  CHECK_FALSE(missing.has_value());
  CHECK(keys == std::vector<std::string>{"msg/2=world"});
  CHECK_TRUE(deleted);
}

TEST(PersistentMap, KeysAndValuesOverTheLimitsAreRejectedWithAClearError) {
  std::vector<std::string> errors;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentMap storage(*env->actors, "big");
    auto long_key = co_await storage.put(self, std::string(2049, 'k'), "v");
    auto big_value = co_await storage.put(self, "k", std::string((1 << 20) + 1, 'v'));
    auto in_batch = co_await storage.batch(self, {MapOp::put("a", "1"), MapOp::del(std::string())});
    for (auto* r : {&long_key, &big_value, &in_batch})
      errors.push_back(r->ok() ? "ok" : to_string(r->error()));
  }));
  LONGS_EQUAL(3, errors.size());
  check_contains(errors[0],
                 "invalid argument: key of 2049 bytes in the storage of actor 'big' "
                 "exceeds the limit of 2048 bytes");
  check_contains(errors[1], "value of 1048577 bytes for key 'k'");
  check_contains(errors[1], "exceeds the limit of 1048576 bytes");
  check_contains(errors[2], "empty key");
}

TEST(PersistentMap, FencedWritesFailOnceANewerOwnerRaisedTheFenceAndWriteNothing) {
  const PersistentMapOptions old_owner{.fence = StoreFence{"fence/rooms/a", 1}};
  const PersistentMapOptions new_owner{.fence = StoreFence{"fence/rooms/a", 2}};
  CHECK_TRUE(env->batch({WriteOp::fence("fence/rooms/a", 1)}).ok());
  bool before_ok = false, after_ok = false;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentMap owner(*env->actors, "rooms/a", old_owner);
    before_ok = (co_await owner.put(self, "k", "from 1")).ok() &&
                (co_await owner.put(self, "other", "x")).ok();
  }));
  CHECK_TRUE(before_ok);
  CHECK_TRUE(env->batch({WriteOp::fence("fence/rooms/a", 2)}).ok());  // a newer owner's claim

  std::vector<StoreResult<void>> refused;
  StoreResult<bool> refused_del = false;
  std::optional<std::string> kept, gone, newest;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentMap zombie(*env->actors, "rooms/a", old_owner);
    refused.push_back(co_await zombie.put(self, "k", "zombie"));
    refused.push_back(co_await zombie.batch(self, {MapOp::put("new", "x"), MapOp::del("k")}));
    refused_del = co_await zombie.del(self, "other");
    PersistentMap owner(*env->actors, "rooms/a", new_owner);
    kept = (co_await owner.get(self, "k")).value();
    gone = (co_await owner.get(self, "new")).value();
    after_ok = (co_await owner.put(self, "k", "from 2")).ok() &&
               (co_await owner.del(self, "other")).value();
    newest = (co_await owner.get(self, "k")).value();
  }));
  UNSIGNED_LONGS_EQUAL(2, refused.size());
  for (auto& r : refused) {
    CHECK_FALSE(r.ok());
    STRCMP_EQUAL("fenced", to_string(r.error().code));
    check_contains(r.error().message, "'fence/rooms/a' is at 2, this writer holds 1");
  }
  CHECK_FALSE(refused_del.ok());
  STRCMP_EQUAL("fenced", to_string(refused_del.error().code));
  CHECK(kept == std::optional<std::string>("from 1"));
  CHECK_FALSE(gone.has_value());
  CHECK_TRUE(after_ok);
  CHECK(newest == std::optional<std::string>("from 2"));
}
