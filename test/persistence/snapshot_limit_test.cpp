// PersistenceOptions::max_snapshot_bytes: a state that encodes larger is not
// written; commit() says why (the actor, the size, the limit), the actor keeps
// running with its in-memory state, and a smaller state commits again.
#include "test/persistence/support.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Notes {
  std::vector<std::string> lines;
  MSGPACK_DEFINE(lines)
};

// Commits a small state, then one over the limit, then rolls it back and
// commits again; records what each step saw.
struct Result {
  Revision first = 0;
  std::optional<StoreError> refused;
  Revision after_refusal = 99;
  bool dirty_after_refusal = false;
  Revision after_rollback = 0;
  StoreResult<void> flushed;
};

Result over_the_limit_and_back(StoreEnv& env, const std::string& actor, std::size_t big) {
  Result out;
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Notes> state(*env.actors, actor);
    co_await state.load(self);
    state.mutate().lines.push_back(std::string(100, 'a'));
    auto first = co_await state.commit(self);
    if (first) out.first = first.value();

    state.mutate().lines.push_back(std::string(big, 'b'));
    auto refused = co_await state.commit(self);
    if (!refused) out.refused = refused.error();
    out.after_refusal = state.revision();
    out.dirty_after_refusal = state.dirty();

    state.mutate().lines.pop_back();  // the caller's rollback
    auto again = co_await state.commit(self);
    if (again) out.after_rollback = again.value();
    out.flushed = co_await state.flush(self, troupe::shutdown);
  }));
  return out;
}

std::size_t stored_lines(StoreEnv& env, const std::string& actor) {
  std::size_t n = 999;
  run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Notes> reader(*env.actors, actor);
    co_await reader.load(self);
    n = reader->lines.size();
  });
  return n;
}

void check_refusal(const Result& out, const std::string& actor, std::size_t limit) {
  LONGS_EQUAL(1, out.first);
  CHECK_TRUE(out.refused.has_value());
  CHECK_TRUE(out.refused->code == StoreErrc::invalid_argument);
  check_contains(out.refused->message, "'" + actor + "'");
  check_contains(out.refused->message, "over the limit of " + std::to_string(limit) + " bytes");
  check_contains(out.refused->message, "max_snapshot_bytes");
  LONGS_EQUAL(1, out.after_refusal);  // nothing was written
  CHECK_TRUE(out.dirty_after_refusal);
  LONGS_EQUAL(2, out.after_rollback);
  CHECK_TRUE(out.flushed.ok());
}

}  // namespace

TEST_GROUP(SnapshotLimit){};

TEST(SnapshotLimit, MemoryStoreCommitOverTheLimitFailsAndTheActorGoesOn) {
  auto env = StoreEnv::memory({.max_snapshot_bytes = 4096});
  const auto out = over_the_limit_and_back(*env, "notes", 10000);
  check_refusal(out, "notes", 4096);
  LONGS_EQUAL(1, stored_lines(*env, "notes"));
}

TEST(SnapshotLimit, FileStoreDefaultLimitRefusesAFiveMegabyteState) {
  TempDir dir;
  auto env = StoreEnv::file(dir.path());
  const std::size_t limit = env->actors->options().max_snapshot_bytes;
  LONGS_EQUAL(4u << 20, limit);
  const auto out = over_the_limit_and_back(*env, "rooms/big", 5u << 20);
  check_refusal(out, "rooms/big", limit);
  // Only the head and the two small generations are on disk.
  auto head = env->get(env->actors->head_key("rooms/big"));
  CHECK_TRUE(head.ok() && head.value().has_value());
  LONGS_EQUAL(2, head.value()->revision);
  LONGS_EQUAL(1, stored_lines(*env, "rooms/big"));
}

TEST(SnapshotLimit, FlushOfAnOversizeStateReportsItAtOnceInsteadOfRetrying) {
  auto env = StoreEnv::memory({.max_snapshot_bytes = 1024});
  StoreResult<void> flushed;
  CHECK_TRUE(run_process(
      env->rt,
      [&](Process& self) -> Task<> {
        PersistentState<Notes> state(*env->actors, "hoarder");
        co_await state.load(self);
        state.mutate().lines.push_back(std::string(4096, 'x'));
        // A deadline far past the test's own bound: returning at all proves it
        // did not retry until the deadline.
        flushed = co_await state.flush(self, troupe::shutdown, std::chrono::hours(1));
      },
      20s));
  CHECK_FALSE(flushed.ok());
  CHECK_TRUE(flushed.error().code == StoreErrc::invalid_argument);
  LONGS_EQUAL(1, env->actors->unsaved().size());
  LONGS_EQUAL(0, stored_lines(*env, "hoarder"));
}
