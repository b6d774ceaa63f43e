// The acceptance test of issue 4: a supervised counter, killed 1000 times
// while a client increments it, ends with exactly the acknowledged
// increments (write_through), on FileStore and on a real redis-server.
//
// Why the client retries with sequence numbers: a kill can land after a
// commit and before its reply. That increment is stored but not
// acknowledged, so the client sends it again (same seq) until it is; the
// counter applies each seq once. "Acknowledged increments" is then exactly
// the number of seqs acknowledged, and the stored count must equal it: an
// acknowledged increment that was lost, or one applied twice, fails it.
#include <atomic>
#include <random>

#include "persist/persistent_server.hpp"
#include "supervisors/supervisor.hpp"
#include "test/persistence/support.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Count {
  long n = 0;
  std::uint64_t last_seq = 0;
  MSGPACK_DEFINE(n, last_seq)
};

struct Incr {
  std::uint64_t seq = 0;
  using reply = long;
};

struct Counter : PersistentServer<Counter, Count> {
  using calls = types<Incr>;
  explicit Counter(Persistence* actors) : PersistentServer(*actors, "counter") {}

  Task<long> handle_call(const Incr& incr) {
    if (incr.seq > state()->last_seq) {
      auto& s = state().mutate();
      ++s.n;
      s.last_seq = incr.seq;
    }
    co_await state().commit_or_exit(process());  // durable before the reply
    co_return state()->n;
  }
};

struct Result {
  int kills = 0;
  std::uint64_t acked = 0;
  long last_reply = 0;
  long stored = -1;
  std::uint64_t stored_seq = 0;
};

Result crash_while_incrementing(StoreEnv& env, int kills) {
  Result out;
  SupervisorSpec spec{
      .strategy = one_for_one,
      .intensity = 1'000'000,
      .period = 1s,
      .children = {
          {.id = "counter", .start = server_child<Counter>(env.actors.get()), .name = "counter"}}};
  Pid root = start_root(env.rt, spec);
  std::atomic<bool> killing_done{false}, client_done{false};
  std::atomic<std::uint64_t> acked{0};
  // Kills the counter once it serves (a kill during the supervisor's very
  // first start would fail the supervisor's own start instead).
  auto killer = [&](Process& self) -> Proc {
    std::minstd_rand rng(42);
    std::uint64_t acked_at_kill = 0;
    for (int k = 0; k < kills; ++k) {
      // Let the client have at least one increment acknowledged by this
      // incarnation, then kill it at a random point of the next ones.
      while (acked.load() <= acked_at_kill && !client_done) co_await self.yield();
      auto found = co_await self.runtime().registry().wait_for(self, "counter", 10s);
      if (!found || client_done) break;
      for (int y = static_cast<int>(rng() % 40); y > 0; --y) co_await self.yield();
      Ref ref = self.monitor(*found);
      self.exit(*found, troupe::kill);
      co_await self.receive(when([ref](const Down& d) { return d.ref == ref; }, [](Down&) {}));
      ++out.kills;
      acked_at_kill = acked.load();
    }
    killing_done = true;
  };

  CHECK_TRUE(run_process(
      env.rt,
      [&](Process& self) -> Task<> {  // the client
        const auto give_up = std::chrono::steady_clock::now() + 100s;
        for (std::uint64_t seq = 1; !killing_done; ++seq) {
          if (seq == 2) self.spawn(killer);
          while (std::chrono::steady_clock::now() < give_up) {
            auto r = co_await call(self, "counter", Incr{seq}, 5s);
            if (r) {
              out.acked = seq;
              acked = seq;
              out.last_reply = *r;
              break;
            }
            (void)co_await self.runtime().registry().wait_for(self, "counter", 5s);
          }
        }
        client_done = true;
      },
      120s));
  // What a fresh reader finds in the store.
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> reader(*env.actors, "counter");
    co_await reader.load(self);
    out.stored = reader->n;
    out.stored_seq = reader->last_seq;
  }));
  env.rt.exit(root, troupe::shutdown);
  CHECK_TRUE(wait_exit(env.rt, root).has_value());
  return out;
}

void check_exact(const Result& out, int kills) {
  UT_PRINT(("kills=" + std::to_string(out.kills) + " acked=" + std::to_string(out.acked)).c_str());
  LONGS_EQUAL(kills, out.kills);
  CHECK(out.acked > 0);
  LONGS_EQUAL(static_cast<long>(out.acked), out.last_reply);
  LONGS_EQUAL(static_cast<long>(out.acked), out.stored);
  LONGS_EQUAL(static_cast<long>(out.acked), static_cast<long>(out.stored_seq));
}

}  // namespace

TEST_GROUP(CrashCounter){};

TEST(CrashCounter, KilledAThousandTimesKeepsExactlyTheAcknowledgedIncrementsOnFileStore) {
  TempDir dir;
  // Actor crashes, not machine crashes: fsync would only slow the test (the
  // SIGKILL test keeps it on).
  auto env = StoreEnv::file(dir.path(), {}, /*fsync=*/false);
  check_exact(crash_while_incrementing(*env, 1000), 1000);
}

TEST(CrashCounter, KilledAThousandTimesKeepsExactlyTheAcknowledgedIncrementsOnRedis) {
  RedisServer server;
  CHECK_TRUE(server.start());
  auto env = StoreEnv::redis(server.url());
  check_exact(crash_while_incrementing(*env, 1000), 1000);
}
