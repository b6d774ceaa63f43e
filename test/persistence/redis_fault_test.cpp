// Actors on a real redis-server that misbehaves: not there at start, or
// killed mid-run and restarted (with its append-only file, so that what it
// acknowledged survives it, as a production Redis would be configured).
#include "test/persistence/support.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n)
};

long stored_count(StoreEnv& env, const std::string& actor) {
  long n = -1;
  run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> reader(*env.actors, actor);
    co_await reader.load(self);
    n = reader->n;
  });
  return n;
}

// Handles the state's messages until it is clean, for at most `limit`.
Task<> settle(Process& self, PersistentStateBase& state, Duration limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while ((state.dirty() || state.stats().write_in_flight) && std::chrono::steady_clock::now() < end)
    co_await self.receive([&](AnyMessage& m) { state.handle(m); }, after(limit, [] {}));
}

}  // namespace

TEST_GROUP(RedisActorFaults){};

TEST(RedisActorFaults, UnreachableAtStartFailsTheActorsStartNamingTheUrlThenServesWhenItAppears) {
  RedisServer server;  // not started: nothing listens on its port
  StoreResult<void> connected;
  auto env = StoreEnv::redis(server.url(), {.op_timeout = 3s}, &connected);
  CHECK_FALSE(connected.ok());
  check_contains(connected.error().message, server.url());

  // Linked at spawn (and exits trapped), so that an exit faster than any
  // monitor could be set is still seen with its reason.
  std::optional<ExitReason> reason;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    self.trap_exit(true);
    Pid actor = self.spawn_link([&](Process& p) -> Proc {
      PersistentState<Count> state(*env->actors, "early");
      co_await state.load(p);
    });
    reason =
        co_await self.receive(when([actor](const Exit& e) { return e.from == actor; },
                                   [](Exit& e) { return std::optional<ExitReason>(e.reason); }),
                              after(5s, [] { return std::optional<ExitReason>(); }));
  }));
  CHECK(reason.has_value());
  check_contains(to_string(*reason), "cannot load the state of actor 'early'");
  check_contains(to_string(*reason), "unavailable");
  check_contains(to_string(*reason), server.url());

  // Redis appears; the store reconnects on its own; a restarted actor serves.
  CHECK_TRUE(server.start());
  bool loaded = false;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    for (int attempt = 0; attempt < 100 && !loaded; ++attempt) {
      Pid pid = self.spawn([&](Process& p) -> Proc {
        PersistentState<Count> state(*env->actors, "early");
        co_await state.load(p);
        loaded = true;
      });
      Ref ref = self.monitor(pid);
      co_await self.receive(when([ref](const Down& d) { return d.ref == ref; }, [](Down&) {}));
      if (!loaded) co_await self.sleep_for(20ms);  // the supervisor's restart backoff
    }
  }));
  CHECK_TRUE(loaded);
}

TEST(RedisActorFaults, KilledMidRunCommitsFailClearlyActorKeepsServingDirtyStateWrittenOnReturn) {
  RedisServer server({"--appendonly", "yes", "--appendfsync", "always"});
  CHECK_TRUE(server.start());
  auto env =
      StoreEnv::redis(server.url(), {.retry_initial = 20ms, .retry_max = 100ms, .op_timeout = 3s});
  long acked = 0;
  std::string failed_commit;
  bool served_while_down = false, clean_after = false;
  CHECK_TRUE(run_process(
      env->rt,
      [&](Process& self) -> Task<> {
        PersistentState<Count> state(*env->actors, "survivor");
        co_await state.load(self);
        for (int i = 0; i < 10; ++i) {
          ++state.mutate().n;
          if (co_await state.commit(self)) acked = state->n;
        }
        server.kill();
        ++state.mutate().n;  // 11: its commit must fail, not acknowledge
        auto commit = co_await state.commit(self);
        if (!commit)
          failed_commit = to_string(commit.error());
        else
          acked = state->n;
        ++state.mutate().n;  // 12: the actor keeps serving meanwhile
        served_while_down = state.dirty() && state->n == 12;
        server.start();
        co_await settle(self, state, 10s);  // retried in the background
        clean_after = !state.dirty();
      },
      60s));
  LONGS_EQUAL(10, acked);
  check_contains(failed_commit, "unavailable");
  check_contains(failed_commit, "cannot write the state of actor 'survivor'");
  CHECK_TRUE(served_while_down);
  CHECK_TRUE(clean_after);
  LONGS_EQUAL(12, stored_count(*env, "survivor"));  // no acknowledged change missing
}

TEST(RedisActorFaults, StateThatCannotBeSavedByTheDeadlineIsReported) {
  RedisServer server;
  CHECK_TRUE(server.start());
  auto env = StoreEnv::redis(server.url(), {.op_timeout = 1s});
  std::string flushed;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env->actors, "doomed", {}, {.durability = Durability::on_stop()});
    co_await state.load(self);
    ++state.mutate().n;
    server.kill();
    auto r = co_await state.flush(self, troupe::shutdown, 300ms);
    flushed = r ? "saved" : to_string(r.error());
  }));
  check_contains(flushed, "not written within the 300 ms deadline");
  auto unsaved = env->actors->unsaved();
  LONGS_EQUAL(1, unsaved.size());
  STRCMP_EQUAL("doomed", unsaved[0].actor.c_str());
}
