// RedisDirectory against a real redis-server: several directories in one
// process play different nodes of one cluster. Lease expiry is awaited by a
// bounded poll on what the directory reports, never by a fixed sleep.
#include <algorithm>
#include <memory>

#include "cluster/redis_directory.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::cluster;
using namespace std::chrono_literals;

namespace {

void check_contains(const std::string& text, const std::string& part) {
  CHECK_TEXT(text.find(part) != std::string::npos, ("'" + part + "' not in: " + text).c_str());
}

void check_code(StoreErrc expected, const StoreError& error) {
  CHECK_TEXT(
      error.code == expected,
      ("expected " + std::string(to_string(expected)) + ", got " + to_string(error)).c_str());
}

test::RedisServer& shared_server() {
  static test::RedisServer server;
  if (!server.running() && !server.start()) FAIL("redis-server did not start");
  return server;
}

int next_prefix = 0;

// One node's directory, with synchronous calls that read like the semantics.
struct Node {
  test::TestLoop& loop;
  std::unique_ptr<RedisDirectory> dir;
  bool closed = false;

  Node(test::TestLoop& l, RedisDirectoryOptions options) : loop(l) {
    auto made = RedisDirectory::create(loop.get(), std::move(options));
    if (!made) FAIL(to_string(made.error()).c_str());
    dir = std::move(made.value());
  }
  ~Node() {
    if (!closed) close();
  }
  StoreResult<void> connect() {
    return loop.call<void>([&](auto cb) { dir->connect(cb); });
  }
  void close() {
    closed = true;
    bool done = false;
    dir->close([&] { done = true; });
    if (!loop.run_until([&] { return done; })) FAIL("the directory did not close");
  }
  StoreResult<std::uint64_t> join(const std::string& id, Duration ttl = 10s, bool draining = false,
                                  std::uint16_t ws_port = 8080) {
    NodeInfo self{.id = id,
                  .host = "127.0.0.1",
                  .ws_port = ws_port,
                  .peer_port = static_cast<std::uint16_t>(ws_port + 1000),
                  .draining = draining};
    return loop.call<std::uint64_t>([&](auto cb) { dir->join(self, ttl, cb); });
  }
  StoreResult<void> renew(bool draining = false) {
    return loop.call<void>([&](auto cb) { dir->renew(draining, cb); });
  }
  StoreResult<void> leave() {
    return loop.call<void>([&](auto cb) { dir->leave(cb); });
  }
  StoreResult<std::vector<NodeInfo>> nodes() {
    return loop.call<std::vector<NodeInfo>>([&](auto cb) { dir->nodes(cb); });
  }
  StoreResult<ClaimResult> claim(const std::string& name) {
    return loop.call<ClaimResult>([&](auto cb) { dir->claim(name, cb); });
  }
  StoreResult<std::optional<Owner>> lookup(const std::string& name) {
    return loop.call<std::optional<Owner>>([&](auto cb) { dir->lookup(name, cb); });
  }
  StoreResult<bool> release(const std::string& name, std::uint64_t fence) {
    return loop.call<bool>([&](auto cb) { dir->release(name, fence, cb); });
  }
  // Claims name and insists that this node won it; its fence.
  std::uint64_t win(const std::string& name) {
    auto r = claim(name);
    if (!r) FAIL(to_string(r.error()).c_str());
    CHECK_TRUE(r->mine);
    return r->owner.fence;
  }
  // Polls lookup until nobody owns name (the owner's lease ran out): bounded.
  bool wait_unowned(const std::string& name, std::chrono::milliseconds deadline = 5s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      auto r = lookup(name);
      if (r.ok() && !r->has_value()) return true;
      loop.run_until([] { return false; }, 20ms);  // the poll's period, not a synchronisation
    }
    return false;
  }
};

}  // namespace

TEST_GROUP(Directory) {
  std::unique_ptr<test::TestLoop> loop;
  std::string prefix;
  std::vector<std::unique_ptr<Node>> made;

  void setup() override {
    loop = std::make_unique<test::TestLoop>();
    prefix = "dt" + std::to_string(++next_prefix) + ":";
  }
  void teardown() override {
    made.clear();
    loop.reset();
  }
  Node& node(RedisDirectoryOptions options = {}) {
    options.url = shared_server().url();
    options.key_prefix = prefix;
    made.push_back(std::make_unique<Node>(*loop, std::move(options)));
    auto connected = made.back()->connect();
    if (!connected) FAIL(to_string(connected.error()).c_str());
    return *made.back();
  }
  std::string redis(const std::vector<std::string>& args) {
    return shared_server().command(args);
  }
};

TEST(Directory, JoinGivesEveryNodeAGrowingIncarnation) {
  Node& a = node();
  Node& b = node();
  auto ia = a.join("a").value();
  auto ib = b.join("b").value();
  CHECK(ib > ia);
  auto ia2 = a.join("a").value();
  CHECK(ia2 > ib);
  UNSIGNED_LONGLONGS_EQUAL(ia2, a.dir->self()->incarnation);
}

TEST(Directory, AClaimedNameIsReportedAsTheOwnersToOtherNodes) {
  Node& a = node();
  Node& b = node();
  auto ia = a.join("a").value();
  b.join("b").value();
  auto fence = a.win("chat/lobby");

  auto other = b.claim("chat/lobby").value();
  CHECK_FALSE(other.mine);
  STRCMP_EQUAL("a", other.owner.node.c_str());
  UNSIGNED_LONGLONGS_EQUAL(ia, other.owner.incarnation);
  UNSIGNED_LONGLONGS_EQUAL(fence, other.owner.fence);

  auto seen = b.lookup("chat/lobby").value();
  CHECK_TRUE(seen.has_value());
  STRCMP_EQUAL("a", seen->node.c_str());
  UNSIGNED_LONGLONGS_EQUAL(fence, seen->fence);
  CHECK_FALSE(b.lookup("chat/other").value().has_value());
}

TEST(Directory, FencesGrowAcrossReclaimReleaseAndClaimAgain) {
  Node& a = node();
  Node& b = node();
  a.join("a").value();
  b.join("b").value();
  auto f1 = a.win("room");
  auto f2 = a.win("room");  // the owner claiming again still raises the fence
  CHECK(f2 > f1);
  CHECK_TRUE(a.release("room", f2).value());
  CHECK_FALSE(a.lookup("room").value().has_value());
  auto f3 = b.win("room");
  CHECK(f3 > f2);
}

TEST(Directory, ReleaseWithAnotherFenceOrFromAnotherNodeDoesNothing) {
  Node& a = node();
  Node& b = node();
  a.join("a").value();
  b.join("b").value();
  auto fence = a.win("room");
  CHECK_FALSE(a.release("room", fence - 1).value());
  CHECK_FALSE(a.release("room", fence + 1).value());
  CHECK_FALSE(b.release("room", fence).value());
  CHECK_TRUE(a.lookup("room").value().has_value());
  CHECK_TRUE(a.release("room", fence).value());
  CHECK_FALSE(a.release("room", fence).value());  // gone already
}

TEST(Directory, AnExpiredLeaseFreesItsNamesAndTheNextClaimGetsABiggerFence) {
  Node& a = node();
  Node& b = node();
  a.join("a", 300ms).value();
  b.join("b").value();
  auto old_fence = a.win("room");
  CHECK_TRUE(b.wait_unowned("room"));  // a never renews
  auto claimed = b.claim("room").value();
  CHECK_TRUE(claimed.mine);
  STRCMP_EQUAL("b", claimed.owner.node.c_str());
  CHECK(claimed.owner.fence > old_fence);
}

TEST(Directory, RenewAfterExpiryReportsTheLeaseLost) {
  Node& a = node();
  Node& b = node();
  a.join("a", 300ms).value();
  b.join("b").value();
  a.win("room");
  CHECK_TRUE(b.wait_unowned("room"));
  auto renewed = a.renew();
  CHECK_FALSE(renewed.ok());
  check_code(StoreErrc::conflict, renewed.error());
  check_contains(renewed.error().message, "lease lost");
  check_contains(renewed.error().message, "expired");
  // And a claim on a lost lease is refused the same way.
  auto claimed = a.claim("other");
  CHECK_FALSE(claimed.ok());
  check_code(StoreErrc::conflict, claimed.error());
  check_contains(claimed.error().message, "lease lost");
}

TEST(Directory, RenewKeepsTheLeasePastItsFirstTtl) {
  Node& a = node();
  a.join("a", 500ms).value();
  a.win("room");
  auto until = std::chrono::steady_clock::now() + 1200ms;
  while (std::chrono::steady_clock::now() < until) {
    CHECK_TRUE(a.renew().ok());
    loop->run_until([] { return false; }, 50ms);  // the renewal period
  }
  CHECK_TRUE(a.lookup("room").value().has_value());
}

TEST(Directory, ARejoinedNodeIsANewIncarnationAndItsOldRecordsOwnNothing) {
  Node& a = node();
  Node& b = node();
  auto first = a.join("a").value();
  b.join("b").value();
  auto old_fence = a.win("room");

  // The node restarts (same id): the old incarnation's record names no owner.
  Node& a2 = node();
  auto second = a2.join("a").value();
  CHECK(second > first);
  CHECK_FALSE(b.lookup("room").value().has_value());
  auto renewed = a.renew();  // the old incarnation's lease is gone
  CHECK_FALSE(renewed.ok());
  check_contains(renewed.error().message, "incarnation " + std::to_string(second));

  auto claimed = b.claim("room").value();
  CHECK_TRUE(claimed.mine);
  CHECK(claimed.owner.fence > old_fence);
}

TEST(Directory, ANodeThatWasOwnerClaimsAgainAfterRejoiningWithABiggerFence) {
  Node& a = node();
  a.join("a").value();
  auto old_fence = a.win("room");
  auto second = a.join("a").value();
  auto claimed = a.claim("room").value();
  CHECK_TRUE(claimed.mine);
  UNSIGNED_LONGLONGS_EQUAL(second, claimed.owner.incarnation);
  CHECK(claimed.owner.fence > old_fence);
}

TEST(Directory, LeaveDropsTheLeaseAtOnce) {
  Node& a = node();
  Node& b = node();
  a.join("a").value();
  b.join("b").value();
  a.win("room");
  CHECK_TRUE(a.leave().ok());
  CHECK_FALSE(b.lookup("room").value().has_value());
  CHECK_TRUE(b.claim("room").value().mine);
  auto renewed = a.renew();
  CHECK_FALSE(renewed.ok());
  check_code(StoreErrc::conflict, renewed.error());
}

TEST(Directory, NodesListsTheLiveOnesWithWhatTheyJoinedWith) {
  Node& a = node();
  Node& b = node();
  Node& c = node();
  Node& d = node();
  auto ia = a.join("a", 10s, false, 8081).value();
  b.join("b", 10s, false, 8082).value();
  c.join("c", 200ms, false, 8083).value();
  d.join("d", 10s, false, 8084).value();
  CHECK_TRUE(d.leave().ok());
  CHECK_TRUE(a.renew(true).ok());

  std::vector<NodeInfo> live;
  auto until = std::chrono::steady_clock::now() + 5s;
  do {  // c's lease runs out by itself
    live = a.nodes().value();
    if (live.size() == 2) break;
    loop->run_until([] { return false; }, 20ms);
  } while (std::chrono::steady_clock::now() < until);
  std::sort(live.begin(), live.end(), [](auto& x, auto& y) { return x.id < y.id; });
  LONGS_EQUAL(2, live.size());
  STRCMP_EQUAL("a", live[0].id.c_str());
  UNSIGNED_LONGLONGS_EQUAL(ia, live[0].incarnation);
  STRCMP_EQUAL("127.0.0.1", live[0].host.c_str());
  LONGS_EQUAL(8081, live[0].ws_port);
  LONGS_EQUAL(9081, live[0].peer_port);
  CHECK_TRUE(live[0].draining);
  STRCMP_EQUAL("b", live[1].id.c_str());
  CHECK_FALSE(live[1].draining);
  // The dead were swept from the member set.
  STRCMP_EQUAL("0", redis({"SISMEMBER", prefix + "nodes", "c"}).c_str());
  STRCMP_EQUAL("0", redis({"SISMEMBER", prefix + "nodes", "d"}).c_str());
  // And draining can be cleared again.
  CHECK_TRUE(a.renew(false).ok());
  auto after = a.nodes().value();
  for (auto& n : after) CHECK_FALSE(n.draining);
}

TEST(Directory, NamesAreAnyBytesWithinTheirLength) {
  Node& a = node();
  Node& b = node();
  a.join("a").value();
  b.join("b").value();
  std::string binary(
      "a\0b\x1f"
      "1\x1f"
      "2\xff",
      8);
  std::string sibling("a\0c", 3);
  auto fence = a.win(binary);
  auto seen = b.lookup(binary).value();
  CHECK_TRUE(seen.has_value());
  UNSIGNED_LONGLONGS_EQUAL(fence, seen->fence);
  CHECK_FALSE(b.lookup(sibling).value().has_value());
  CHECK_TRUE(b.claim(sibling).value().mine);

  std::string longest(max_name_size, '\x1f');
  a.win(longest);
  CHECK_TRUE(a.release(longest, a.lookup(longest).value()->fence).value());
}

TEST(Directory, EmptyAndOversizeNamesAreRefused) {
  Node& a = node();
  a.join("a").value();
  auto empty = a.claim("");
  CHECK_FALSE(empty.ok());
  check_code(StoreErrc::invalid_argument, empty.error());
  check_contains(empty.error().message, "1 to 512 bytes");

  std::string big(600, 'x');
  for (auto error : {a.claim(big).error(), a.lookup(big).error(), a.release(big, 1).error()}) {
    check_code(StoreErrc::invalid_argument, error);
    check_contains(error.message, "not 600");
  }
  auto just_over = a.lookup(std::string(max_name_size + 1, 'x'));
  CHECK_FALSE(just_over.ok());
}

TEST(Directory, BadNodeIdsAndHostsAreRefused) {
  Node& a = node();
  for (std::string id : {std::string(), std::string(65, 'n'), std::string("a b"),
                         std::string("a\x1f"
                                     "b"),
                         std::string("a\0b", 3), std::string("é")}) {
    auto joined = a.join(id);
    CHECK_FALSE(joined.ok());
    check_code(StoreErrc::invalid_argument, joined.error());
    check_contains(joined.error().message, "node id");
  }
  CHECK_TRUE(a.join(std::string(64, 'n')).ok());
  NodeInfo spaced{.id = "h", .host = "bad host"};
  auto joined = loop->call<std::uint64_t>([&](auto cb) { a.dir->join(spaced, 1s, cb); });
  check_code(StoreErrc::invalid_argument, joined.error());
  check_contains(joined.error().message, "host");
  NodeInfo instant{.id = "h", .host = "h"};
  joined = loop->call<std::uint64_t>([&](auto cb) { a.dir->join(instant, 500us, cb); });
  check_code(StoreErrc::invalid_argument, joined.error());
  check_contains(joined.error().message, "ttl");
}

TEST(Directory, ACorruptOwnerRecordIsReportedCorrupt) {
  Node& a = node();
  a.join("a").value();
  STRCMP_EQUAL("OK", redis({"SET", prefix + "owner:room", "garbage\x01"}).c_str());
  auto seen = a.lookup("room");
  CHECK_FALSE(seen.ok());
  check_code(StoreErrc::corrupt, seen.error());
  check_contains(seen.error().message, "owner record");
  check_contains(seen.error().message, "garbage\\x01");
  auto claimed = a.claim("room");
  CHECK_FALSE(claimed.ok());
  check_code(StoreErrc::corrupt, claimed.error());
  // Other names are unaffected.
  CHECK_TRUE(a.claim("other").value().mine);
}

TEST(Directory, ACorruptLeaseOrFenceCounterIsReportedCorrupt) {
  Node& a = node();
  a.join("a").value();
  STRCMP_EQUAL("OK", redis({"SET", prefix + "fence:room", "seven"}).c_str());
  auto claimed = a.claim("room");
  check_code(StoreErrc::corrupt, claimed.error());
  check_contains(claimed.error().message, "fence counter");

  STRCMP_EQUAL("OK", redis({"SET", prefix + "lease:ghost", "junk"}).c_str());
  STRCMP_EQUAL("1", redis({"SADD", prefix + "nodes", "ghost"}).c_str());
  auto listed = a.nodes();
  check_code(StoreErrc::corrupt, listed.error());
  check_contains(listed.error().message, "ghost");
  STRCMP_EQUAL("OK", redis({"SET", prefix + "owner:x",
                            "ghost\x1f"
                            "1\x1f"
                            "1"})
                         .c_str());
  check_code(StoreErrc::corrupt, a.lookup("x").error());
}

TEST(Directory, OperationsThatNeedAJoinThrowBeforeOne) {
  Node& a = node();
  CHECK_THROWS(std::logic_error, a.dir->claim("x", [](auto) {}));
  CHECK_THROWS(std::logic_error, a.dir->renew(false, [](auto) {}));
  CHECK_THROWS(std::logic_error, a.dir->release("x", 1, [](auto) {}));
  CHECK_THROWS(std::logic_error, a.dir->leave([](auto) {}));
  CHECK_FALSE(a.lookup("x").value().has_value());  // needs no join
  CHECK_TRUE(a.nodes().ok());
}

TEST(Directory, CloseAnswersEveryOperationIssuedBeforeItAndRefusesLaterOnes) {
  Node& a = node();
  a.join("a").value();
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    a.dir->claim("room/" + std::to_string(i), [&](StoreResult<ClaimResult>) { ++answered; });
  }
  a.dir->lookup("", [&](StoreResult<std::optional<Owner>>) { ++answered; });  // refused at once
  a.close();
  LONGS_EQUAL(21, answered);
  CHECK_THROWS(std::logic_error, a.dir->lookup("x", [](auto) {}));
}

TEST(Directory, FlushedScriptsFallBackToEval) {
  Node& a = node();
  a.join("a").value();
  auto f1 = a.win("room");
  STRCMP_EQUAL("OK", redis({"SCRIPT", "FLUSH"}).c_str());
  CHECK(a.win("room") > f1);
  CHECK_TRUE(a.lookup("room").value().has_value());
}

TEST(Directory, KeysLiveUnderThePrefixInTheDocumentedRecords) {
  Node& a = node();
  auto inc = a.join("a", 10s, false, 8080).value();
  auto fence = a.win("room");
  auto sep = std::string("\x1f");
  auto i = std::to_string(inc);
  STRCMP_EQUAL(("a" + sep + i + sep + std::to_string(fence)).c_str(),
               redis({"GET", prefix + "owner:room"}).c_str());
  STRCMP_EQUAL(std::to_string(fence).c_str(), redis({"GET", prefix + "fence:room"}).c_str());
  STRCMP_EQUAL((i + sep + "127.0.0.1" + sep + "8080" + sep + "9080" + sep + "0").c_str(),
               redis({"GET", prefix + "lease:a"}).c_str());
  CHECK(std::stoll(redis({"PTTL", prefix + "lease:a"})) > 0);
}

// ---- the raw passthrough it is built on ----------------------------------------

TEST_GROUP(RedisCommand) {
  std::unique_ptr<test::TestLoop> loop;
  std::unique_ptr<RedisStore> redis;
  void setup() override {
    loop = std::make_unique<test::TestLoop>();
    redis = std::move(RedisStore::create(loop->get(), {.url = shared_server().url()}).value());
    CHECK_TRUE(loop->call<void>([&](auto cb) { redis->connect(cb); }).ok());
  }
  void teardown() override {
    loop->close(*redis);
    redis.reset();
    loop.reset();
  }
  StoreResult<RedisReply> command(std::vector<std::string> args) {
    return loop->call<RedisReply>([&](auto cb) { redis->command(args, cb); });
  }
};

TEST(RedisCommand, RepliesOfEveryTypeArriveOwned) {
  auto key = std::string("rc:\0key", 7);
  CHECK(RedisReply::Type::status == command({"SET", key, std::string("v\0v", 3)})->type);
  auto got = command({"GET", key}).value();
  CHECK(RedisReply::Type::string == got.type);
  LONGS_EQUAL(3, got.str.size());
  CHECK(RedisReply::Type::nil == command({"GET", "rc:absent"})->type);
  auto n = command({"INCR", "rc:n"}).value();
  CHECK(RedisReply::Type::integer == n.type);
  CHECK(n.integer >= 1);
  auto array = command({"MGET", key, "rc:absent"}).value();
  CHECK(RedisReply::Type::array == array.type);
  LONGS_EQUAL(2, array.elements.size());
  CHECK(array.elements[1].is_nil());
}

TEST(RedisCommand, AnErrorReplyIsAReplyNotAStoreError) {
  auto r = command({"NOSUCHCOMMAND", "x"});
  CHECK_TRUE(r.ok());
  CHECK_TRUE(r->is_error());
  check_contains(r->str, "ERR");
  auto empty = command({});
  check_code(StoreErrc::invalid_argument, empty.error());
}

// ---- faults: each test runs its own redis-server ------------------------------

TEST_GROUP(DirectoryFaults) {
  std::unique_ptr<test::TestLoop> loop;
  std::unique_ptr<test::RedisServer> server;
  std::vector<std::unique_ptr<Node>> made;

  void setup() override {
    loop = std::make_unique<test::TestLoop>();
  }
  void teardown() override {
    made.clear();
    loop.reset();
    server.reset();
  }
  Node& node(RedisDirectoryOptions options) {
    options.url = server->url();
    options.connect_timeout = 2000ms;
    options.backoff_initial = 10ms;
    options.backoff_max = 100ms;
    made.push_back(std::make_unique<Node>(*loop, std::move(options)));
    auto connected = made.back()->connect();
    if (!connected) FAIL(to_string(connected.error()).c_str());
    return *made.back();
  }
  bool wait_for(Node & n, RedisState s) {
    return loop->run_until([&] { return n.dir->state() == s; }, 10s);
  }
};

TEST(DirectoryFaults, RedisDownFailsEveryOperationUnavailableNamingTheUrlThenRecovers) {
  server = std::make_unique<test::RedisServer>();
  CHECK_TRUE(server->start());
  Node& a = node({});
  a.join("a").value();
  auto fence = a.win("room");

  server->kill();
  CHECK_TRUE(wait_for(a, RedisState::down));
  std::vector<StoreError> errors{a.join("a").error(),      a.renew().error(),
                                 a.nodes().error(),        a.claim("room").error(),
                                 a.lookup("room").error(), a.release("room", fence).error(),
                                 a.leave().error()};
  for (const auto& e : errors) {
    check_code(StoreErrc::unavailable, e);
    check_contains(e.message, server->url());
  }

  CHECK_TRUE(server->start());
  CHECK_TRUE(wait_for(a, RedisState::ready));
  // This server kept nothing: the lease is gone, a new join works.
  check_code(StoreErrc::conflict, a.renew().error());
  a.join("a").value();
  CHECK_TRUE(a.claim("room").value().mine);
  CHECK_TRUE(a.lookup("room").value().has_value());
  // The new server was sent the script before the first EVALSHA: no NOSCRIPT.
  auto stats = server->command({"INFO", "errorstats"});
  CHECK_TEXT(stats.find("NOSCRIPT") == std::string::npos, stats.c_str());
}

TEST(DirectoryFaults, ClientPauseLongerThanTheCommandTimeoutFailsUnavailable) {
  server = std::make_unique<test::RedisServer>();
  CHECK_TRUE(server->start());
  Node& a = node({.command_timeout = 300ms});
  a.join("a").value();
  a.win("room");
  STRCMP_EQUAL("OK", server->command({"CLIENT", "PAUSE", "1500", "ALL"}).c_str());
  auto seen = a.lookup("room");
  CHECK_FALSE(seen.ok());
  check_code(StoreErrc::unavailable, seen.error());
  check_contains(seen.error().message, "no reply within 300 ms");
  check_contains(seen.error().message, server->url());
  // Once the pause ends, the directory answers again (bounded poll).
  bool back = false;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!back && std::chrono::steady_clock::now() < until) {
    auto r = a.lookup("room");
    back = r.ok() && r->has_value();
    if (!back) loop->run_until([] { return false; }, 50ms);
  }
  CHECK_TRUE(back);
}

TEST(DirectoryFaults, AClaimNotReplicatedToEnoughReplicasIsUnavailable) {
  server = std::make_unique<test::RedisServer>();
  CHECK_TRUE(server->start());
  Node& a = node({.wait_replicas = 1, .wait_timeout = 50ms});
  a.join("a").value();
  auto claimed = a.claim("room");
  CHECK_FALSE(claimed.ok());
  check_code(StoreErrc::unavailable, claimed.error());
  check_contains(claimed.error().message, "claim not replicated");
  check_contains(claimed.error().message, "0 of 1");
}

TEST(DirectoryFaults, AClaimAcknowledgedByAReplicaSucceeds) {
  server = std::make_unique<test::RedisServer>(
      std::vector<std::string>{"--repl-diskless-sync-delay", "0"});
  CHECK_TRUE(server->start());
  test::RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(server->port())});
  CHECK_TRUE(replica.start());
  bool synced = false;  // bounded poll: the replica's first sync
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!synced && std::chrono::steady_clock::now() < until) {
    synced = server->command({"INFO", "replication"}).find("state=online") != std::string::npos;
    if (!synced) loop->run_until([] { return false; }, 20ms);
  }
  CHECK_TRUE(synced);
  Node& a = node({.wait_replicas = 1, .wait_timeout = 2000ms});
  a.join("a").value();
  auto claimed = a.claim("room");
  if (!claimed) FAIL(to_string(claimed.error()).c_str());
  CHECK_TRUE(claimed->mine);
  // The replica has the record.
  check_contains(replica.command({"GET", "troupe:cluster:owner:room"}), "a\x1f");
}

TEST(DirectoryFaults, BadOptionsAreRefused) {
  auto bad_url = RedisDirectory::create(loop->get(), {.url = "http://nope"});
  check_code(StoreErrc::invalid_argument, bad_url.error());
  auto bad_wait = RedisDirectory::create(
      loop->get(), {.command_timeout = 100ms, .wait_replicas = 1, .wait_timeout = 100ms});
  check_code(StoreErrc::invalid_argument, bad_wait.error());
  check_contains(bad_wait.error().message, "wait_timeout");
}
