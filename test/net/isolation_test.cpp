// No session can stall the others (docs/runtime.md, "A process that
// computes"): with real clients over loopback, one session that computes
// without suspending must not keep any other connection or session
// waiting; past the hard limit it is restarted; a route may have schedulers
// of its own.
//
// No timing goals: the computing session spins until the test releases it
// (or a safety bound only a broken gateway reaches), and the test asserts
// that the others were answered while it still spun.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <vector>

#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "persist/store_connection.hpp"
#include "supervisors/supervisor.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/support/runtime_helpers.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

using Clock = std::chrono::steady_clock;

// What the test and the computing session share.
struct Spinning {
  std::promise<void> started;
  std::atomic<bool> release{false};
  std::atomic<bool> spinning{false};
  std::atomic<int> starts{0};
  std::atomic<unsigned> scheduler{~0u};
};

// On "spin": spins without a suspension point until released; on "limit":
// spins until the watchdog has passed its hard limit, then suspends (and
// fails there). Echoes the frame afterwards.
struct Spin : Session<Spin> {
  explicit Spin(Spinning* s) : shared(s) {}
  Spinning* shared;

  void on_start() { ++shared->starts; }
  Task<> on_message(Connection& c, std::string_view text, MessageKind kind) {
    shared->scheduler = self().scheduler_index();
    if (text == "spin") {
      shared->spinning = true;
      shared->started.set_value();
      const auto until = Clock::now() + std::chrono::seconds(20);
      while (!shared->release.load() && Clock::now() < until) {
      }
      shared->spinning = false;
    } else if (text == "limit") {
      const auto until = Clock::now() + std::chrono::seconds(20);
      while (self().runtime().stats().cpu_limit_hits == 0 && Clock::now() < until) {
      }
      co_await self().checkpoint();  // the next suspension point: it fails here
    }
    c.send(text, kind);
  }
};

struct Echo : Session<Echo> {
  std::atomic<unsigned>* scheduler = nullptr;
  void on_message(Connection& c, std::string_view text, MessageKind kind) {
    if (scheduler) *scheduler = self().scheduler_index();
    c.send(text, kind);
  }
};

struct Tally {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// Answers each frame once its new count is durable.
struct Counter : PersistentSession<Counter, Tally> {
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    mutate().n += 1;
    auto saved = co_await commit();
    c.send(saved ? std::string(text) : "not saved");
  }
};

RawClient open(std::uint16_t port, const std::string& path) {
  RawClient client;
  CHECK_TRUE(client.connect(port));
  CHECK_EQUAL(101, client.upgrade(path));
  return client;
}

// Sends `text` and reads its echo (answering pings meanwhile).
bool round_trip(RawClient& client, const std::string& text) {
  if (!client.send_frame(opcode::text, text)) return false;
  for (;;) {
    auto frame = client.read_frame(5s);
    if (!frame) return false;
    if (frame->opcode == opcode::ping) {
      client.send_frame(opcode::pong, frame->payload);
      continue;
    }
    return frame->opcode == opcode::text && frame->payload == text;
  }
}

}  // namespace

TEST_GROUP(Isolation) {
  Watchdog watchdog{60s};
};

TEST(Isolation, OtherConnectionsAndSessionsAreAnsweredWhileOneSessionComputes) {
  Runtime rt({.schedulers = 2});
  Spinning shared;
  Gateway gateway(rt, {.server = quick_options()});
  gateway.route("/spin", [&] { return std::make_unique<Spin>(&shared); });
  gateway.route<Echo>("/echo");
  CHECK_FALSE(gateway.start());

  // Twenty clients on twenty sessions, spread over both schedulers.
  std::vector<RawClient> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(open(gateway.port(), "/echo/e-" + std::to_string(i)));
    CHECK_TRUE(round_trip(clients.back(), "warm " + std::to_string(i)));
  }
  RawClient spinner = open(gateway.port(), "/spin/s");
  CHECK_TRUE(spinner.send_frame(opcode::text, "spin"));
  CHECK(shared.started.get_future().wait_for(10s) == std::future_status::ready);

  // Every other session answers, and the sockets answer pings, while the
  // spin goes on (it ends only when released below).
  for (int i = 0; i < 20; ++i) CHECK_TRUE(round_trip(clients[i], "during " + std::to_string(i)));
  CHECK_TRUE(clients[0].send_frame(opcode::ping, "are you there"));
  auto pong = clients[0].read_frame(5s);
  CHECK_TRUE(pong.has_value());
  CHECK_EQUAL(opcode::pong, pong->opcode);
  CHECK_TRUE(shared.spinning.load());

  shared.release = true;
  auto echoed = spinner.read_frame(10s);
  CHECK_TRUE(echoed.has_value());
  STRCMP_EQUAL("spin", echoed->payload.c_str());
  gateway.stop();
}

// The store runs on a scheduler of its own (StoreConnection's default), so
// a session that computes delays no other session's durable writes.
TEST(Isolation, DurableWritesCompleteWhileASessionComputes) {
  Runtime rt({.schedulers = 2});
  TempDir dir("isolation");
  StoreConnection store(rt, open_file_store({.directory = dir.path()}));
  Spinning shared;
  Gateway gateway(rt, {.server = quick_options(), .persistence = &store.persistence()});
  gateway.route("/spin", [&] { return std::make_unique<Spin>(&shared); });
  gateway.route<Counter>("/count");
  Pid root = rt.start(SupervisorSpec{.strategy = rest_for_one,
                                     .children = {store.child_spec(), gateway.child_spec()}});
  // A supervisor answers once its children have started: the store is open
  // and the gateway listens.
  CHECK_EQUAL(2u, children_of(rt, root).size());
  CHECK_TRUE(store.is_open());

  std::vector<RawClient> counters;
  for (int i = 0; i < 4; ++i) {
    counters.push_back(open(gateway.port(), "/count/c-" + std::to_string(i)));
    CHECK_TRUE(round_trip(counters.back(), "first"));
  }
  RawClient spinner = open(gateway.port(), "/spin/s");
  CHECK_TRUE(spinner.send_frame(opcode::text, "spin"));
  CHECK(shared.started.get_future().wait_for(10s) == std::future_status::ready);
  for (auto& c : counters) CHECK_TRUE(round_trip(c, "during"));
  CHECK_TRUE(shared.spinning.load());

  shared.release = true;
  auto echoed = spinner.read_frame(10s);
  CHECK_TRUE(echoed.has_value());
  rt.exit(root, troupe::shutdown);
  CHECK_TRUE(rt.run_for(20s));
}

TEST(Isolation, ASessionPastTheHardLimitIsRestarted) {
  RuntimeOptions options{.schedulers = 2};
  options.watchdog.hard_limit = std::chrono::milliseconds(50);
  Runtime rt(options);
  Spinning shared;
  Gateway gateway(rt, {.server = quick_options()});
  gateway.route("/spin", [&] { return std::make_unique<Spin>(&shared); });
  CHECK_FALSE(gateway.start());

  RawClient first = open(gateway.port(), "/spin/s");
  CHECK_TRUE(first.send_frame(opcode::text, "limit"));
  // It failed while handling this client's frame: closed with 1011, as
  // after any crash (RouteOptions::hand_over_interrupted).
  std::optional<RawFrame> frame;
  while ((frame = first.read_frame(10s)) && frame->opcode == opcode::ping)
    first.send_frame(opcode::pong, frame->payload);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(opcode::close, frame->opcode);
  CHECK_EQUAL(1011, frame->close_code());

  // The gateway starts it again for the next client.
  RawClient second = open(gateway.port(), "/spin/s");
  CHECK_TRUE(round_trip(second, "hello"));
  CHECK_EQUAL(2, shared.starts.load());
  CHECK_EQUAL(1u, rt.stats().cpu_limit_hits);
  CHECK_EQUAL(1, metric(gateway.port(), "troupe_watchdog_cpu_limit_hits_total"));
  CHECK_EQUAL(1, metric(gateway.port(), "troupe_watchdog_overruns_total"));
  gateway.stop();
}

TEST(Isolation, ARouteMayHaveSchedulersOfItsOwn) {
  Runtime rt({.schedulers = 2});
  Spinning shared;
  std::atomic<unsigned> echo_scheduler{~0u};
  Gateway gateway(rt, {.server = quick_options()});
  RouteOptions own;
  own.schedulers = 1;
  gateway.route(
      "/spin", [&] { return std::make_unique<Spin>(&shared); }, own);
  gateway.route("/echo", [&] {
    auto echo = std::make_unique<Echo>();
    echo->scheduler = &echo_scheduler;
    return echo;
  });
  CHECK_FALSE(gateway.start());

  RawClient heavy = open(gateway.port(), "/spin/a");
  CHECK_TRUE(round_trip(heavy, "light"));
  RawClient light = open(gateway.port(), "/echo/b");
  CHECK_TRUE(round_trip(light, "x"));
  // The runtime's own schedulers are 0 and 1; the gateway's I/O one is 2;
  // the route's own comes after.
  CHECK_EQUAL(3u, shared.scheduler.load());
  CHECK_TRUE(echo_scheduler.load() < 2);
  gateway.stop();
}

TEST(Isolation, WithSharedLoopsTheSocketsRunOnTheRuntimesSchedulers) {
  Runtime rt({.schedulers = 2});
  GatewayOptions options{.server = quick_options()};
  options.io_schedulers = 0;
  Gateway gateway(rt, options);
  gateway.route<Echo>("/echo");
  CHECK_FALSE(gateway.start());
  CHECK_EQUAL(2u, gateway.server().loop_count());
  RawClient client = open(gateway.port(), "/echo/a");
  CHECK_TRUE(round_trip(client, "x"));
  // No scheduler was added: a new group starts right after the runtime's.
  CHECK_EQUAL(2u, rt.add_schedulers(1).first);
  gateway.stop();
}
