// RedisStore against a real redis-server: the Store contract, plus what is
// Redis-specific (scripts, prefixes, large batched compare-and-puts).
#include <memory>

#include "persist/redis_store.hpp"
#include "test/persist/store_contract.hpp"
#include "test/support/redis_server.hpp"

using namespace troupe;

namespace {

// One server for the contract tests; each test gets its own key prefix.
test::RedisServer& shared_server() {
  static test::RedisServer server;
  if (!server.running() && !server.start()) FAIL("redis-server did not start");
  return server;
}

int next_prefix = 0;

}  // namespace

TEST_GROUP(RedisStore) {
  std::unique_ptr<test::TestLoop> loop;
  std::unique_ptr<RedisStore> redis;
  std::unique_ptr<test::SyncStore> sync;
  std::string prefix;

  void setup() override {
    loop = std::make_unique<test::TestLoop>();
    prefix = "t" + std::to_string(++next_prefix) + ":";
    redis = make_store(shared_server().url(), prefix);
    auto connected = loop->call<void>([&](auto cb) { redis->connect(cb); });
    if (!connected) FAIL(to_string(connected.error()).c_str());
    sync = std::make_unique<test::SyncStore>(*redis, *loop);
  }
  void teardown() override {
    loop->close(*redis);
    sync.reset();
    redis.reset();
    loop.reset();
  }
  std::unique_ptr<RedisStore> make_store(const std::string& url, const std::string& key_prefix) {
    auto created = RedisStore::create(loop->get(), {.url = url, .key_prefix = key_prefix});
    if (!created) FAIL(to_string(created.error()).c_str());
    return std::move(created.value());
  }
  test::SyncStore& store() {
    return *sync;
  }
};

STORE_CONTRACT_TESTS(RedisStore)

TEST(RedisStore, KeysLiveUnderThePrefix) {
  CHECK_TRUE(store().put("k", "v").ok());
  STRCMP_EQUAL("v", shared_server().command({"GET", prefix + "v:k"}).c_str());
  STRCMP_EQUAL("1", shared_server().command({"GET", prefix + "r:k"}).c_str());
  STRCMP_EQUAL("1", shared_server().command({"ZCARD", prefix + "index"}).c_str());
}

TEST(RedisStore, StoresWithOtherPrefixesDoNotSeeEachOther) {
  CHECK_TRUE(store().put("shared-name", "mine").ok());
  auto other = make_store(shared_server().url(), prefix + "other:");
  CHECK_TRUE(loop->call<void>([&](auto cb) { other->connect(cb); }).ok());
  test::SyncStore o(*other, *loop);
  CHECK_FALSE(o.get("shared-name")->has_value());
  CHECK_TRUE(o.list_all("", 10).empty());
  loop->close(*other);
}

TEST(RedisStore, ScriptsFlushedOnTheServerFallBackToEval) {
  CHECK_TRUE(store().put("k", "1").ok());
  STRCMP_EQUAL("OK", shared_server().command({"SCRIPT", "FLUSH"}).c_str());
  UNSIGNED_LONGLONGS_EQUAL(2, store().put("k", "2").value());
  CHECK_TRUE(store().compare_and_put("k", "3", 3).ok());
  UNSIGNED_LONGS_EQUAL(1, store().list_all("", 10).size());
}

TEST(RedisStore, ManyThousandCompareAndPutsSpanSeveralScriptRuns) {
  std::vector<CasWrite> writes;
  for (int i = 0; i < 2500; ++i) writes.push_back({"actor/" + std::to_string(i), "s1", 1});
  auto first = store().compare_and_put_many(writes);
  CHECK_TRUE(first.ok());
  for (const auto& o : *first) CHECK_TRUE(o.committed);
  // The same writes again are all stale now.
  auto again = store().compare_and_put_many(writes);
  CHECK_TRUE(again.ok());
  for (const auto& o : *again) {
    CHECK_FALSE(o.committed);
    UNSIGNED_LONGLONGS_EQUAL(1, o.revision);
  }
  UNSIGNED_LONGS_EQUAL(2500, store().list_all("actor/", 1000).size());
}

TEST(RedisStore, LargeValuesRoundTrip) {
  std::string big(1 << 20, 'x');
  big[12345] = '\0';
  CHECK_TRUE(store().put("big", big).ok());
  CHECK(big == store().get("big").value()->value);
}

TEST(RedisStore, OperationsBeforeConnectAreProgrammingErrors) {
  auto fresh = make_store(shared_server().url(), prefix);
  CHECK_THROWS(std::logic_error, fresh->get("k", [](StoreResult<std::optional<Entry>>) {}));
  loop->close(*fresh);
}
