// erase_actor, the census and head_actor (persist/retention.hpp), on a
// FileStore: an erase takes every key of its actor and none of another's
// (names that share a prefix, escaped characters), across many pages; the
// census counts exactly the keys and bytes under the Persistence's prefix.
#include "persist/retention.hpp"

#include "test/persistence/support.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// A head, two generations, a quarantined snapshot and `kv` storage keys.
std::vector<WriteOp> keys_of(const Persistence& actors, const std::string& actor, int kv) {
  std::vector<WriteOp> ops{WriteOp::put(actors.head_key(actor), "head"),
                           WriteOp::put(actors.generation_key(actor, 1), "g1"),
                           WriteOp::put(actors.generation_key(actor, 2), "g2"),
                           WriteOp::put(actors.quarantine_key(actor, 7), "q7")};
  for (int i = 0; i < kv; ++i)
    ops.push_back(WriteOp::put(actors.storage_prefix(actor) + std::to_string(i), "v"));
  return ops;
}

}  // namespace

TEST_GROUP(ActorRetention) {
  TempDir dir;
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    env = StoreEnv::file(dir.path(), {}, false);
  }
  void teardown() override {
    env.reset();
  }
  std::size_t count(const std::string& prefix) {
    std::size_t n = 0;
    CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
      auto page = co_await env->client->list(self, prefix, {.cursor = {}, .limit = 100000});
      n = page.value().items.size();
    }));
    return n;
  }
};

TEST(ActorRetention, EraseTakesEveryKeyOfItsActorAcrossPagesAndNoOtherActors) {
  const Persistence& actors = *env->actors;
  CHECK_TRUE(env->batch(keys_of(actors, "rooms/a", 250)).ok());
  CHECK_TRUE(env->batch(keys_of(actors, "rooms/ab", 3)).ok());
  CHECK_TRUE(env->batch(keys_of(actors, "rooms/a%2Fb", 3)).ok());
  CHECK_TRUE(env->batch({WriteOp::put("used/rooms/a", "1")}).ok());
  std::size_t erased = 0;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    erased = (co_await erase_actor(self, actors, "rooms/a", 40)).value();
  }));
  LONGS_EQUAL(254, erased);
  LONGS_EQUAL(0, count(actors.actor_prefix("rooms/a")));
  LONGS_EQUAL(7, count(actors.actor_prefix("rooms/ab")));
  LONGS_EQUAL(7, count(actors.actor_prefix("rooms/a%2Fb")));
  LONGS_EQUAL(1, count("used/"));
  // Erasing an actor with nothing stored is no error.
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    erased = (co_await erase_actor(self, actors, "rooms/none")).value();
  }));
  LONGS_EQUAL(0, erased);
}

TEST(ActorRetention, CensusCountsTheKeysAndBytesUnderTheActorPrefixOnly) {
  const Persistence& actors = *env->actors;
  auto ops = keys_of(actors, "rooms/a", 150);
  std::uint64_t bytes = 0;
  for (const auto& op : ops) bytes += op.key.size() + op.value.size();
  CHECK_TRUE(env->batch(std::move(ops)).ok());
  CHECK_TRUE(env->batch({WriteOp::put("used/rooms/a", "1"), WriteOp::put("alarms/x", "2")}).ok());
  StoredTotals totals;
  std::vector<std::string> heads;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    totals = (co_await count_stored(self, actors)).value();
    ActorCensus census(actors, 16);
    while ((co_await census.next(self)).value())
      for (const Item& item : census.items())
        if (auto actor = head_actor(actors, item.key)) heads.push_back(*actor);
  }));
  LONGS_EQUAL(154, totals.keys);
  LONGS_EQUAL(bytes, totals.bytes);
  CHECK(heads == std::vector<std::string>{"rooms/a"});
}

TEST(ActorRetention, HeadActorInvertsTheKeyLayout) {
  const Persistence& actors = *env->actors;
  for (std::string name : {"rooms/lobby", "a%b", "%2F", "x/y/z", "%"})
    CHECK(head_actor(actors, actors.head_key(name)) == std::optional<std::string>(name));
  CHECK_FALSE(head_actor(actors, actors.generation_key("rooms/a", 1)).has_value());
  CHECK_FALSE(head_actor(actors, "actor/a/kv/x/head").has_value());  // storage key named head
  CHECK_FALSE(head_actor(actors, "actor/%41/head").has_value());     // not an escape of ours
  CHECK_FALSE(head_actor(actors, "other/a/head").has_value());
  CHECK_FALSE(head_actor(actors, "actor//head").has_value());
}
