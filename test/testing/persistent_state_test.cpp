// PersistentState on virtual time and on a store that fails on cue: debounce
// windows to the nanosecond, and what a failed, timed-out or ambiguous write
// (applied, its reply lost) does. The same promises on a real FileStore and
// Redis are proven in test/persistence/.
#include "persist/persistent_state.hpp"

#include <CppUTest/TestHarness.h>

#include <chrono>
#include <optional>
#include <vector>

#include "persist/awaitable_store.hpp"
#include "persist/memory_store.hpp"
#include "persist/persistence.hpp"
#include "testing/cpputest.hpp"
#include "testing/faulty_store.hpp"
#include "testing/test_runtime.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::FaultyStore;
using troupe::testing::StoreFault;
using troupe::testing::TestRuntime;

namespace {

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n)
};
struct Bump {};
struct Commit {};

// A store that fails on cue, over a MemoryStore, on a TestRuntime.
struct Env {
  TestRuntime t;
  MemoryStore memory{t.loop()};
  FaultyStore store{t.loop(), memory};
  AwaitableStore client{t.runtime(), 0, store};
  Persistence actors{client, {}};

  ~Env() {
    t.runtime().shutdown();
    bool closed = false;
    store.close([&] { memory.close([&] { closed = true; }); });
    while (!closed) uv_run(t.loop(), UV_RUN_ONCE);
  }
};

// What the actor saw, step by step.
struct Seen {
  std::vector<std::pair<Duration, Revision>>
      writes;  // (virtual time, revision) of each new revision
  std::optional<StoreResult<Revision>> committed;
  std::optional<ExitReason> exit;
};

// An actor over a Count: Bump changes it, Commit commits and records the
// result; it records every new revision with the virtual time it was seen.
Pid spawn_counter(Env& env, Seen& seen, PersistentStateOptions options) {
  Pid pid = env.t.spawn([&env, &seen, options](Process& self) -> Proc {
    PersistentState<Count> state(env.actors, "doc", {}, options);
    co_await state.load(self);
    const auto start = env.t.now();
    for (;;) {
      bool commit = false;
      co_await self.receive([&](const Bump&) { ++state.mutate().n; },
                            [&](const Commit&) { commit = true; },
                            [&](AnyMessage& m) { state.handle(m); });
      if (commit) seen.committed = co_await state.commit(self, 2s);
      if (seen.writes.empty() || seen.writes.back().second != state.revision())
        seen.writes.emplace_back(env.t.now() - start, state.revision());
    }
  });
  env.t.spawn([&seen, pid](Process& self) -> Proc {
    self.monitor(pid);
    co_await self.receive([&](const Down& d) { seen.exit = d.reason; });
  });
  env.t.run();
  return pid;
}

long stored(Env& env) {
  std::optional<long> n;
  env.t.spawn([&](Process& self) -> Proc {
    PersistentState<Count> reader(env.actors, "doc");
    co_await reader.load(self);
    n = reader->n;
  });
  env.t.run();
  CHECK(n.has_value());
  return *n;
}

}  // namespace

TEST_GROUP(SimPersistentState){};

TEST(SimPersistentState, DebounceWritesOnceWhenTheQuietWindowEnds) {
  Env env;
  Seen seen;
  Pid actor = spawn_counter(env, seen, {.durability = Durability::debounce(30ms, 1s)});
  for (int i = 0; i < 100; ++i) env.t.runtime().send(actor, Bump{});
  env.t.run();
  env.t.advance(30ms - 1ns);
  LONGS_EQUAL(1, seen.writes.size());  // only the load's revision 0
  env.t.advance(1ns);
  env.t.advance(1s);
  LONGS_EQUAL(2, seen.writes.size());
  CHECK(seen.writes[1].first == 30ms);
  LONGS_EQUAL(1, seen.writes[1].second);  // one write for a hundred changes
  LONGS_EQUAL(100, stored(env));
}

TEST(SimPersistentState, DebounceWritesAtMaxWaitWhileChangesKeepComing) {
  Env env;
  Seen seen;
  Pid actor = spawn_counter(env, seen, {.durability = Durability::debounce(50ms, 100ms)});
  // A change every 10 ms for 500 ms: the quiet window never passes, max_wait does.
  for (int i = 0; i < 50; ++i) {
    env.t.runtime().send(actor, Bump{});
    env.t.advance(10ms);
  }
  env.t.advance(1s);
  // Written every max_wait while the changes keep coming; the last write
  // (at 500 ms) holds the last change (sent at 490 ms).
  std::vector<Duration> at;
  for (std::size_t i = 1; i < seen.writes.size(); ++i) at.push_back(seen.writes[i].first);
  const std::vector<Duration> expected{100ms, 200ms, 300ms, 400ms, 500ms};
  CHECK(at == expected);
  LONGS_EQUAL(50, stored(env));
}

TEST(SimPersistentState, AFailedWriteIsRetriedAndTheCommitSaysItFailed) {
  Env env;
  Seen seen;
  Pid actor = spawn_counter(env, seen, {});
  env.store.inject(StoreFault::fail, 1, testing::StoreOps::writes, StoreErrc::io_error);
  env.t.runtime().send(actor, Bump{});
  env.t.runtime().send(actor, Commit{});
  env.t.run();
  CHECK(seen.committed.has_value());
  CHECK_FALSE(seen.committed->ok());
  CHECK(seen.committed->error().code == StoreErrc::io_error);
  env.t.advance(10s);  // the background retry
  CHECK_FALSE(seen.exit.has_value());
  LONGS_EQUAL(1, stored(env));
}

TEST(SimPersistentState, AWriteThatGetsNoAnswerTimesOutAndIsRetried) {
  Env env;
  Seen seen;
  Pid actor = spawn_counter(env, seen, {});
  env.store.inject(StoreFault::time_out);
  env.t.runtime().send(actor, Bump{});
  env.t.runtime().send(actor, Commit{});
  env.t.advance(2s - 1ns);
  CHECK_FALSE(seen.committed.has_value());
  env.t.advance(1ns);
  CHECK(seen.committed.has_value());
  CHECK(seen.committed->error().code == StoreErrc::unavailable);
  env.t.advance(10s);
  LONGS_EQUAL(0, env.memory.size());  // the write still waits for the store
  env.store.release_held();           // the backend's own timeout answers it
  env.t.advance(10s);                 // and the state retries
  CHECK_FALSE(seen.exit.has_value());
  LONGS_EQUAL(1, stored(env));
}

TEST(SimPersistentState, AWriteAppliedWhoseReplyIsLostIsNotAppliedTwiceAndTheActorGoesOn) {
  Env env;
  Seen seen;
  Pid actor = spawn_counter(env, seen, {});
  env.store.inject(StoreFault::lose_reply);
  env.t.runtime().send(actor, Bump{});
  env.t.runtime().send(actor, Commit{});
  env.t.run();
  CHECK(seen.committed.has_value());
  CHECK_FALSE(seen.committed->ok());  // the actor cannot know it was stored
  env.t.advance(10s);                 // the retry finds its own write there
  if (seen.exit) FAIL(("the actor exited: " + to_string(*seen.exit)).c_str());
  env.t.runtime().send(actor, Bump{});
  env.t.runtime().send(actor, Commit{});
  env.t.run();
  CHECK(seen.committed->ok());
  LONGS_EQUAL(2, stored(env));
}
