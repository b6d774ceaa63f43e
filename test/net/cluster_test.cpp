// The cluster in one test process: two or three nodes, each its own Runtime,
// gateway and ClusterNode as the example server builds them, on one real
// redis-server, with real WebSocket clients over loopback. What a client on
// one node sees of a session owned by another: forwarding, a crash of the
// owner's session, a drain of the owner, a lease lost, a cast by name; and
// a peer that sends garbage. Whole processes killed (-9, SIGSTOP) are the
// chaos test's (tools/cluster/, docs/cluster-testing.md).

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "cluster/link/frame.hpp"
#include "cluster/node.hpp"
#include "cluster/request_codec.hpp"
#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "persist/store_connection.hpp"
#include "supervisors/supervisor.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/ws_client.hpp"
#include "test/support/free_port.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/runtime_helpers.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct CountState {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// "+" adds one and answers "<n>@<node>" once it is stored; "crash" throws;
// a cluster::Remote cast adds its payload's length and tells every client.
struct Count : PersistentSession<Count, CountState> {
  using casts = types<cluster::Remote>;
  using calls = types<cluster::Ask>;
  explicit Count(std::string node) : node(std::move(node)) {}
  void on_connect(Connection& c, const ConnectInfo& info) {
    c.send("hello " + std::to_string(state().n) + (info.resumed ? " resumed" : ""));
  }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "crash") throw std::runtime_error("crash on request");
    mutate().n += 1;
    co_await commit_or_exit();
    c.send(std::to_string(state().n) + "@" + node);
  }
  std::string handle_call(const cluster::Ask& a) {
    return std::to_string(state().n) + " for " + a.payload + " from " + a.from + " on " + node;
  }
  void handle_cast(const cluster::Remote& r) {
    mutate().n += static_cast<long>(r.payload.size());
    broadcast("cast " + r.payload + " from " + r.from);
  }
  std::string node;
};

// One node: the example server's tree, small.
struct Node {
  // Without `with_node`, the tree holds the store and the gateway only: the
  // test starts the node's child itself.
  Node(const std::string& id, const std::string& redis, std::string cluster_url = {},
       bool with_node = true)
      : port(static_cast<std::uint16_t>(free_port())),
        store(rt, open_redis_store({.url = redis})),
        node(rt, cluster::ClusterOptions{.url = cluster_url.empty() ? redis : cluster_url,
                                         .node_id = id,
                                         .lease = 900ms,
                                         .test_faults = true}),
        gateway(
            rt,
            {.server = {.port = port}, .persistence = &store.persistence(), .placement = &node}) {
    gateway.route(
        "/count", [id] { return std::make_unique<Count>(id); },
        RouteOptions{.idle_timeout = 30s, .restart_wait = 2s});
    node.attach(gateway, store.persistence());
    SupervisorSpec app{.strategy = rest_for_one,
                       .intensity = 3,
                       .period = 10s,
                       .children = {store.child_spec(), gateway.child_spec()}};
    if (with_node) app.children.push_back(node.child_spec());
    root = rt.start(app);
    CHECK_EQUAL(app.children.size(), children_of(rt, root).size());
  }
  ~Node() { stop(); }
  // The tree's shutdown, as SIGTERM does it: the node drains first.
  void stop() {
    if (!rt.alive(root)) return;
    rt.exit(root, troupe::shutdown);
    rt.run();
  }
  std::string get(const std::string& path) { return http_get(port, path).second; }

  std::uint16_t port;
  Runtime rt{{.schedulers = 2, .handle_signals = false}};
  StoreConnection store;
  cluster::ClusterNode node;
  Gateway gateway;
  Pid root;
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

// A client of `path` on `node`, past its hello.
auto joined(WsTestClient& client, Node& node, const std::string& path) {
  auto c = client.connect(node.port, path);
  CHECK_TRUE(c->wait_open(5s));
  next(*c);
  return c;
}

// Waits (bounded) until every node sees `count` live nodes.
void await_members(std::vector<Node*> nodes, std::size_t count) {
  for (int i = 0; i < 200; ++i) {
    bool all = true;
    for (Node* n : nodes) all = all && n->node.members().size() == count;
    if (all) return;
    std::this_thread::sleep_for(20ms);  // polling a condition with no event to wait on
  }
  FAIL("the nodes did not see each other");
}

}  // namespace

TEST_GROUP(Cluster) {
  Watchdog watchdog{90s};
  RedisServer redis;
  void setup() override {
    CHECK_TRUE(redis.start());
  }
};

TEST(Cluster, AClientOnAnotherNodeTalksToTheOneSessionWhereItIsOwned) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  WsTestClient client;
  auto on_a = client.connect(a.port, "/count/x");  // the first connection: a claims it
  CHECK_TRUE(on_a->wait_open(5s));
  STRCMP_EQUAL("hello 0", next(*on_a).c_str());
  auto on_b = client.connect(b.port, "/count/x");
  CHECK_TRUE(on_b->wait_open(5s));
  STRCMP_EQUAL("hello 0", next(*on_b).c_str());
  on_b->send("+");
  STRCMP_EQUAL("1@a", next(*on_b).c_str());  // handled on a, answered through b
  on_a->send("+");
  STRCMP_EQUAL("2@a", next(*on_a).c_str());
  for (int i = 3; i <= 50; ++i) on_b->send("+");
  for (int i = 3; i <= 50; ++i)
    STRCMP_EQUAL((std::to_string(i) + "@a").c_str(), next(*on_b).c_str());
  // Both nodes name the same owner.
  std::string owner = a.get("/cluster/owner?name=count/x");
  CHECK_TRUE(owner.find("\"node\":\"a\"") != std::string::npos);
  CHECK_TRUE(b.get("/cluster/owner?name=count/x").find("\"node\":\"a\"") != std::string::npos);
  CHECK_TRUE(a.get("/cluster/owner?name=count/nobody").find("\"node\":null") != std::string::npos);
}

TEST(Cluster, ACrashOfTheOwnersSessionKeepsTheForwardedConnectionsOpen) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, a, "/count/x");
  auto on_b = joined(client, b, "/count/x");
  on_b->send("+");
  STRCMP_EQUAL("1@a", next(*on_b).c_str());
  on_a->send("crash");  // a's own client crashes it: that one is closed with 1011
  auto closed = on_a->wait_closed(5s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1011, closed->code);
  // The forwarded one is handed to the next incarnation, on a again.
  STRCMP_EQUAL("hello 1 resumed", next(*on_b).c_str());
  on_b->send("+");
  STRCMP_EQUAL("2@a", next(*on_b).c_str());
  CHECK_FALSE(on_b->wait_closed(0ms).has_value());
}

TEST(Cluster, ADrainedOwnerHandsItsSessionsOverAndClientsOnOtherNodesSeeNoClose) {
  Node b("b", redis.url());
  auto a = std::make_unique<Node>("a", redis.url());
  await_members({a.get(), &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, *a, "/count/x");
  auto on_b = joined(client, b, "/count/x");
  for (int i = 1; i <= 5; ++i) {
    on_b->send("+");
    STRCMP_EQUAL((std::to_string(i) + "@a").c_str(), next(*on_b).c_str());
  }
  a->stop();  // SIGTERM: drains, then exits
  // b's client: moved to b, with the state a flushed; no close.
  STRCMP_EQUAL("hello 5 resumed", next(*on_b).c_str());
  on_b->send("+");
  STRCMP_EQUAL("6@b", next(*on_b).c_str());
  CHECK_FALSE(on_b->wait_closed(0ms).has_value());
  // a's own client was closed when a stopped (going away).
  auto closed = on_a->wait_closed(5s);
  CHECK_TRUE(closed.has_value());
  CHECK_TRUE(b.get("/cluster/owner?name=count/x").find("\"node\":\"b\"") != std::string::npos);
}

TEST(Cluster, FramesSentWhileTheOwnerDrainsAreHandedOverInOrderAndNoneTwice) {
  Node b("b", redis.url());
  auto a = std::make_unique<Node>("a", redis.url());
  await_members({a.get(), &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, *a, "/count/x");
  auto on_b = joined(client, b, "/count/x");
  std::thread stopper([&] { a->stop(); });
  for (int i = 0; i < 200; ++i) on_b->send("+");
  // Every "+" answered exactly once, in order, whichever node answered it.
  long last = 0;
  for (int got = 0; got < 200;) {
    std::string m = next(*on_b);
    if (m.rfind("hello", 0) == 0) continue;  // the hand-over
    CHECK_FALSE_TEXT(m == "<nothing>", "a + went unanswered");
    const long n = std::stol(m.substr(0, m.find('@')));
    CHECK_EQUAL(last + 1, n);
    last = n;
    ++got;
  }
  stopper.join();
  CHECK_FALSE(on_b->wait_closed(0ms).has_value());
}

TEST(Cluster, ANodeThatCannotRenewStopsItsSessionsAndAnotherTakesThemOver) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, a, "/count/x");
  on_a->send("+");
  STRCMP_EQUAL("1@a", next(*on_a).c_str());
  a.get("/cluster/fault?renewals=drop");
  // a kills its session at its own deadline; its client is handed over, and
  // once a's lease is gone in Redis, b claims the name (or a, re-joined).
  auto on_b = client.connect(b.port, "/count/x");
  CHECK_TRUE(on_b->wait_open(5s));
  std::string first = next(*on_b);
  CHECK_TRUE(first.rfind("hello 1", 0) == 0);
  for (int i = 0; i < 100; ++i) {
    if (a.node.counters().leases_lost.load() > 0) break;
    std::this_thread::sleep_for(20ms);  // polling a counter with no event to wait on
  }
  CHECK_EQUAL(1u, a.node.counters().leases_lost.load());
  a.get("/cluster/fault?renewals=resume");
  on_b->send("+");
  std::string m = next(*on_b);
  while (m.rfind("hello", 0) == 0) m = next(*on_b);
  STRCMP_EQUAL("2", m.substr(0, m.find('@')).c_str());  // nothing acknowledged was lost
}

TEST(Cluster, ACastByNameReachesTheSessionOnItsOwnersNode) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, a, "/count/x");
  SendResult sent = b.rt.run_on_async<SendResult>(0, [&](std::function<void(SendResult)> done) {
    b.rt.spawn(
        [&b, done](Process& self) -> Proc { done(co_await b.node.cast(self, "count/x", "abc")); });
  });
  CHECK(sent == SendResult::ok);
  STRCMP_EQUAL("cast abc from b", next(*on_a).c_str());
  on_a->send("+");
  STRCMP_EQUAL("4@a", next(*on_a).c_str());  // 3 from the cast, 1 from "+"
}

TEST(Cluster, ACallByNameIsAnsweredByTheSessionOnItsOwnersNode) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  WsTestClient client;
  auto on_a = joined(client, a, "/count/x");
  on_a->send("+");
  STRCMP_EQUAL("1@a", next(*on_a).c_str());
  using Answer = Result<std::string, std::string>;
  auto ask = [&](const std::string& name) {
    return b.rt.run_on_async<Answer>(0, [&](std::function<void(Answer)> done) {
      b.rt.spawn([&b, name, done](Process& self) -> Proc {
        done(co_await b.node.call(self, name, "q", 2s));
      });
    });
  };
  Answer answer = ask("count/x");
  CHECK_TRUE(answer.ok());
  STRCMP_EQUAL("1 for q from b on a", answer.value().c_str());
  // Nobody runs count/new: the caller's node starts it and answers.
  Answer fresh = ask("count/new");
  CHECK_TRUE(fresh.ok());
  STRCMP_EQUAL("0 for q from b on b", fresh.value().c_str());
  Answer none = ask("nothing/here");
  CHECK_FALSE(none.ok());
}

TEST(Cluster, ADirectoryThatCannotBeReachedFailsTheNodesStartNamingIt) {
  const std::string dead = "redis://127.0.0.1:" + std::to_string(free_port()) + "/0";
  Node a("a", redis.url(), dead, false);
  std::string error = a.rt.run_on_async<std::string>(0, [&](std::function<void(std::string)> done) {
    a.rt.spawn([&a, done](Process& self) -> Proc {
      auto started = co_await start_child(self, a.root, a.node.child_spec());
      done(started.ok() ? std::string("started") : to_string(started.error()));
    });
  });
  STRCMP_CONTAINS("cannot reach the directory", error.c_str());
  STRCMP_CONTAINS(dead.substr(0, dead.size() - 2).c_str(), error.c_str());
  // The gateway serves on (its plain HTTP), and places nothing: a client
  // of a session waits (restart_wait), then is told to try again later.
  CHECK_EQUAL(200, http_get(a.port, "/healthz").first);
  // A raw client: lws's client turns 1013, registered after RFC 6455, into 1002.
  RawClient raw;
  CHECK_TRUE(raw.connect(a.port));
  LONGS_EQUAL(101, raw.upgrade("/count/x"));
  auto closed = raw.read_frame(10s);
  CHECK_TRUE(closed && closed->opcode == opcode::close);
  LONGS_EQUAL(close_code::try_again_later, closed->close_code());
}

TEST(Cluster, ANodeRefusesAStoreThatOnlyOneMachineSees) {
  Runtime rt{{.schedulers = 1, .handle_signals = false}};
  TempDir dir("cluster");
  StoreConnection files(rt, open_file_store({.directory = dir.path()}));
  cluster::ClusterNode node(rt, {.url = redis.url(), .node_id = "a"});
  Gateway gateway(rt, {.persistence = &files.persistence(), .placement = &node});
  try {
    node.attach(gateway, files);
    FAIL("a FileStore was accepted");
  } catch (const std::invalid_argument& e) {
    STRCMP_CONTAINS("one machine's", e.what());
    STRCMP_CONTAINS(dir.path().c_str(), e.what());
  }
  rt.shutdown();
}

TEST(Cluster, APeerThatSendsGarbageLosesItsLinkAndNothingElse) {
  Node a("a", redis.url()), b("b", redis.url());
  await_members({&a, &b}, 2);
  std::uint16_t peer = 0;
  for (const auto& n : a.node.members())
    if (n.id == "a") peer = n.peer_port;
  CHECK_TRUE(peer != 0);
  {
    RawClient junk;
    CHECK_TRUE(junk.connect(peer));
    junk.send_all(std::string("\x00\x00\x00\x05hello", 9));
    junk.send_all(std::string(64, '\xff'));
    CHECK_TRUE(junk.wait_eof(5s));  // the link closed on the garbage
  }
  WsTestClient client;
  auto on_a = joined(client, a, "/count/y");
  auto on_b = joined(client, b, "/count/y");
  on_b->send("+");
  STRCMP_EQUAL("1@a", next(*on_b).c_str());
  CHECK_TRUE(metric(a.port, "troupe_cluster_link_frames_malformed_total") +
                 metric(a.port, "troupe_cluster_links_rejected_total") >=
             1);
}

TEST_GROUP(ClusterOpenRequest){};

TEST(ClusterOpenRequest, RoundTripsAndRefusesHostileBytes) {
  cluster::OpenRequest open;
  open.request.path = "/count/x";
  open.request.route = "/count";
  open.request.name = "x";
  open.request.headers = {{"origin", "http://example.com"}};
  open.request.query = {{"name", "ann"}};
  open.resumed = true;
  open.interrupted = "+";
  auto back = cluster::decode_open(cluster::encode_open(open));
  CHECK_TRUE(back.ok());
  STRCMP_EQUAL("x", back.value().request.name.c_str());
  STRCMP_EQUAL("ann", back.value().request.query.at(0).second.c_str());
  CHECK_TRUE(back.value().resumed);
  STRCMP_EQUAL("+", back.value().interrupted->c_str());
  for (std::string bad :
       {std::string(), std::string("\x93\x01\x02\x03", 4), cluster::encode_open(open).substr(0, 10),
        cluster::encode_open(open) + "x", std::string(1, '\xc1')}) {
    auto r = cluster::decode_open(bad);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.error().empty());
  }
  cluster::OpenRequest nameless = open;
  nameless.request.name.clear();
  CHECK_FALSE(cluster::decode_open(cluster::encode_open(nameless)).ok());
}
