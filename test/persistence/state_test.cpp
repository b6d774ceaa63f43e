// PersistentState on a FileStore in a temporary directory: fencing of a stale
// incarnation, what the actor exposes of its unwritten
// state, and flushing on a supervisor's shutdown.
#include "persist/persistent_server.hpp"
#include "supervisors/supervisor.hpp"
#include "test/persistence/support.hpp"
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

long stored_count(StoreEnv& env, const std::string& actor) {
  long n = -1;
  run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> reader(*env.actors, actor);
    co_await reader.load(self);
    n = reader->n;
  });
  return n;
}

}  // namespace

TEST_GROUP(PersistentState) {
  TempDir dir;
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    env = StoreEnv::file(dir.path());
  }
  void teardown() override {
    env.reset();
  }
};

TEST(PersistentState, FreshActorStartsFromItsInitialState) {
  long n = 0;
  Revision revision = 99;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env->actors, "fresh", {.initial = [] {
      return Count{7};
    }});
    co_await state.load(self);
    n = state->n;
    revision = state.revision();
  }));
  LONGS_EQUAL(7, n);
  LONGS_EQUAL(0, revision);
}

TEST(PersistentState, StaleIncarnationCannotOverwriteNewerStateAndExitsWithAClearReason) {
  std::promise<void> loaded;
  Pid stale = env->rt.spawn([&](Process& self) -> Proc {
    PersistentState<Count> state(*env->actors, "fenced");
    co_await state.load(self);
    loaded.set_value();
    co_await self.receive<Go>();
    state.mutate().n = 1;
    co_await state.commit(self);  // must not return: the incarnation is fenced
  });
  CHECK(loaded.get_future().wait_for(10s) == std::future_status::ready);
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {  // the newer incarnation
    PersistentState<Count> state(*env->actors, "fenced");
    co_await state.load(self);
    state.mutate().n = 100;
    co_await state.commit_or_exit(self);
  }));
  std::optional<ExitReason> reason;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    Ref ref = self.monitor(stale);
    self.send(stale, Go{});
    reason = co_await self.receive(
        when([ref](const Down& d) { return d.ref == ref; }, [](Down& d) { return d.reason; }));
  }));
  CHECK(reason.has_value());
  check_contains(to_string(*reason), "stale incarnation of actor 'fenced' fenced");
  check_contains(to_string(*reason), "another incarnation had written revision 1");
  LONGS_EQUAL(100, stored_count(*env, "fenced"));
}

// Debounce windows (coalescing, max_wait) are tested on virtual time, to
// the nanosecond: test/testing/persistent_state_test.cpp.

TEST(PersistentState, OnStopStateIsWrittenOnlyByFlush) {
  Revision after_changes = 99, after_flush = 0;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env->actors, "lazy", {}, {.durability = Durability::on_stop()});
    co_await state.load(self);
    for (int i = 0; i < 5; ++i) ++state.mutate().n;
    co_await self.receive([&](AnyMessage& m) { state.handle(m); }, after(50ms, [] {}));
    after_changes = state.revision();
    co_await state.flush(self, troupe::shutdown);
    after_flush = state.revision();
  }));
  LONGS_EQUAL(0, after_changes);
  LONGS_EQUAL(1, after_flush);
  LONGS_EQUAL(5, stored_count(*env, "lazy"));
}

TEST(PersistentState, MetricsCountWritesAndTheStateNotYetWritten) {
  PersistenceStats before, dirty, written;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env->actors, "metered", {},
                                 {.durability = Durability::on_stop()});
    co_await state.load(self);
    before = env->actors->metrics();
    ++state.mutate().n;
    co_await self.receive([&](AnyMessage& m) { state.handle(m); }, after(5ms, [] {}));
    dirty = env->actors->metrics();
    co_await state.flush(self, troupe::shutdown);
    written = env->actors->metrics();
  }));
  LONGS_EQUAL(0, before.unsaved_actors);
  LONGS_EQUAL(0, before.writes);
  LONGS_EQUAL(1, dirty.unsaved_actors);
  CHECK_TRUE(dirty.oldest_unsaved >= 5ms);  // it waited at least that long
  LONGS_EQUAL(0, written.unsaved_actors);
  LONGS_EQUAL(1, written.writes);
  LONGS_EQUAL(0, written.write_failures);
  CHECK_TRUE(written.write_time > Duration::zero());
}

namespace {
struct Add {
  long n = 0;
};
struct Lazy : PersistentServer<Lazy, Count> {
  using casts = types<Add>;
  explicit Lazy(Persistence* actors)
      : PersistentServer(*actors, "supervised", {}, {.durability = Durability::on_stop()}) {}
  void handle_cast(const Add& a) { state().mutate().n += a.n; }
};
}  // namespace

TEST(PersistentState, SupervisorShutdownFlushesTheDirtyStateOfAPersistentServer) {
  SupervisorSpec spec{
      .children = {
          {.id = "lazy", .start = server_child<Lazy>(env->actors.get()), .name = "supervised"}}};
  Pid root = start_root(env->rt, spec);
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    auto found = co_await self.runtime().registry().wait_for(self, "supervised", 5s);
    if (found) {
      cast(self, *found, Add{3});
      cast(self, *found, Add{4});
    }
  }));
  env->rt.exit(root, troupe::shutdown);
  CHECK_TRUE(wait_exit(env->rt, root).has_value());
  LONGS_EQUAL(7, stored_count(*env, "supervised"));
  CHECK_TRUE(env->actors->unsaved().empty());
}
