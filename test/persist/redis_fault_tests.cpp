// RedisStore when Redis misbehaves: not there at start, killed mid-run,
// frozen, or refusing our password. Each test runs its own redis-server.
#include <memory>

#include "persist/redis_store.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

void check_contains(const std::string& text, const std::string& part) {
  CHECK_TEXT(text.find(part) != std::string::npos, ("'" + part + "' not in: " + text).c_str());
}

}  // namespace

TEST_GROUP(RedisFaults) {
  std::unique_ptr<test::TestLoop> loop;
  std::unique_ptr<RedisStore> redis;
  std::vector<RedisState> states;

  void setup() override {
    loop = std::make_unique<test::TestLoop>();
  }
  void teardown() override {
    if (redis) loop->close(*redis);
    redis.reset();
    loop.reset();
  }
  StoreResult<void> connect(const std::string& url,
                            std::chrono::milliseconds command_timeout = 5s) {
    auto created = RedisStore::create(loop->get(), {.url = url,
                                                    .key_prefix = "f:",
                                                    .connect_timeout = 2000ms,
                                                    .command_timeout = command_timeout,
                                                    .backoff_initial = 10ms,
                                                    .backoff_max = 100ms});
    if (!created) FAIL(to_string(created.error()).c_str());
    redis = std::move(created.value());
    redis->on_state_change([this](RedisState s, const StoreError*) { states.push_back(s); });
    return loop->call<void>([&](auto cb) { redis->connect(cb); });
  }
  bool wait_for(RedisState s, std::chrono::milliseconds deadline = 10s) {
    return loop->run_until([&] { return redis->state() == s; }, deadline);
  }
  test::SyncStore sync() {
    return test::SyncStore(*redis, *loop);
  }
};

TEST(RedisFaults, UnreachableAtStartFailsNamingTheUrlThenConnectsWhenItAppears) {
  test::RedisServer server;  // not started: nothing listens on its port
  auto connected = connect(server.url());
  CHECK_FALSE(connected.ok());
  STRCMP_EQUAL(to_string(StoreErrc::unavailable), to_string(connected.error().code));
  check_contains(connected.error().message, server.url());
  check_contains(connected.error().message, "refused");

  // While down, operations fail at once, with the same clear error.
  auto put = sync().put("k", "v");
  CHECK_FALSE(put.ok());
  STRCMP_EQUAL(to_string(StoreErrc::unavailable), to_string(put.error().code));
  check_contains(put.error().message, server.url());

  // The store keeps retrying with backoff and connects once Redis is there.
  CHECK_TRUE(server.start());
  CHECK_TRUE(wait_for(RedisState::ready));
  CHECK_TRUE(sync().put("k", "v").ok());
}

TEST(RedisFaults, KilledMidRunFailsClearlyWhileDownAndRecoversAfterRestart) {
  test::RedisServer server;
  CHECK_TRUE(server.start());
  CHECK_TRUE(connect(server.url()).ok());
  CHECK_TRUE(sync().compare_and_put("actor/1", "s1", 1).ok());

  server.kill();
  CHECK_TRUE(wait_for(RedisState::down));
  auto while_down = sync().compare_and_put("actor/1", "s2", 2);
  CHECK_FALSE(while_down.ok());
  STRCMP_EQUAL(to_string(StoreErrc::unavailable), to_string(while_down.error().code));
  check_contains(while_down.error().message, server.url());

  CHECK_TRUE(server.start());
  CHECK_TRUE(wait_for(RedisState::ready));
  // This server kept nothing (persistence is off), so revision 1 is next.
  CHECK_TRUE(sync().compare_and_put("actor/1", "s1 again", 1).ok());
  CHECK_TRUE(sync().get("actor/1").value().has_value());
}

TEST(RedisFaults, CommandsInFlightWhenRedisDiesEachFailAndNoneIsLost) {
  test::RedisServer server;
  CHECK_TRUE(server.start());
  CHECK_TRUE(connect(server.url()).ok());
  int ok = 0, failed = 0;
  std::string message;
  for (int i = 0; i < 100; ++i) {
    redis->put("k" + std::to_string(i), "v", [&](StoreResult<Revision> r) {
      if (r.ok()) return void(++ok);
      ++failed;
      message = r.error().message;
    });
  }
  server.kill();  // before the loop ran: the pipelined commands meet a dead server
  CHECK_TRUE(loop->run_until([&] { return ok + failed == 100; }));
  LONGS_EQUAL(0, ok);
  check_contains(message, server.url());
  check_contains(message, "may or may not have been applied");
}

TEST(RedisFaults, FrozenServerTimesOutAndTheStoreReconnectsWhenItThaws) {
  test::RedisServer server;
  CHECK_TRUE(server.start());
  CHECK_TRUE(connect(server.url(), 300ms).ok());
  server.pause();
  auto start = std::chrono::steady_clock::now();
  auto get = sync().get("k");
  auto waited = std::chrono::steady_clock::now() - start;
  server.resume();
  CHECK_FALSE(get.ok());
  STRCMP_EQUAL(to_string(StoreErrc::unavailable), to_string(get.error().code));
  check_contains(get.error().message, "no reply within 300 ms");
  CHECK(waited < 2s);
  CHECK_TRUE(wait_for(RedisState::ready));
  CHECK_TRUE(sync().put("k", "v").ok());
}

TEST(RedisFaults, WrongPasswordFailsTheHandshakeClearly) {
  test::RedisServer server({"--requirepass", "right"});
  CHECK_TRUE(server.start());
  auto url = "redis://:wrong@127.0.0.1:" + std::to_string(server.port()) + "/0";
  auto connected = connect(url);
  CHECK_FALSE(connected.ok());
  check_contains(connected.error().message, "redis://:***@127.0.0.1");
  check_contains(connected.error().message, "handshake failed");
  CHECK(connected.error().message.find("wrong") == std::string::npos);
}

TEST(RedisFaults, PasswordAndDatabaseFromTheUrlAreUsed) {
  test::RedisServer server({"--requirepass", "right"});
  CHECK_TRUE(server.start());
  auto url = "redis://:right@127.0.0.1:" + std::to_string(server.port()) + "/3";
  CHECK_TRUE(connect(url).ok());
  CHECK_TRUE(sync().put("k", "v").ok());
  STRCMP_EQUAL("v", server.command({"GET", "f:v:k"}, 3).c_str());
  STRCMP_EQUAL("(type 4)", server.command({"GET", "f:v:k"}, 0).c_str());  // nil in db 0
}

TEST(RedisFaults, UnixSocketUrlConnects) {
  test::TempDir dir;
  std::string socket = dir.path() + "/redis.sock";
  test::RedisServer server({"--unixsocket", socket});
  CHECK_TRUE(server.start());
  CHECK_TRUE(connect("unix://" + socket).ok());
  CHECK_TRUE(sync().put("k", "over a unix socket").ok());
  STRCMP_EQUAL("over a unix socket", server.command({"GET", "f:v:k"}).c_str());
}

TEST(RedisFaults, CloseFailsNothingSilently) {
  test::RedisServer server;
  CHECK_TRUE(server.start());
  CHECK_TRUE(connect(server.url()).ok());
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    redis->put("k", "v", [&](StoreResult<Revision>) { ++answered; });
  }
  loop->close(*redis);
  redis.reset();
  LONGS_EQUAL(20, answered);
}
