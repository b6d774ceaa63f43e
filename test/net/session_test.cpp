// Session actors behind the gateway, with real WebSocket clients over
// loopback: one session per name, broadcast, crash survival. The session
// logic that runs on timers (idle stop, state across a crash and an idle
// stop) is tested on virtual time in test/testing/session_harness_test.cpp.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <msgpack.hpp>
#include <mutex>
#include <stdexcept>

#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "persist/file_store.hpp"
#include "persist/persistence.hpp"
#include "persist/persistent_state.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/temp_file_store.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Counts session starts and stops, and lets a test wait for a stop.
struct Lifecycle {
  std::atomic<int> starts{0};
  std::mutex m;
  std::condition_variable cv;
  int stops = 0;

  void stopped() {
    std::lock_guard<std::mutex> lock(m);
    ++stops;
    cv.notify_all();
  }
  bool wait_stops(int n) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, 5s, [&] { return stops >= n; });
  }
};

struct Release {};

// Around each boundary of a frame header's length field (125/126, 65535/65536)
// and past the 64 KiB a connection's corked frames may reach.
const std::vector<std::size_t> burst_sizes{0, 1, 125, 126, 127, 65535, 65536, 70000, 3};

// Greets, echoes, broadcasts "bcast:<text>" to the others, tags "tag:<t>"
// and reports "who:<t>", and crashes on "crash".
struct Room : Session<Room> {
  explicit Room(Lifecycle* life) : life(life) {}
  Lifecycle* life;

  Task<> on_start() {
    ++life->starts;
    co_return;
  }
  Task<> on_connect(Connection& c, const ConnectInfo& info) {
    c.send("hello " + name() + (info.resumed ? " resumed" : "") +
           (info.interrupted ? " after " + *info.interrupted : ""));
    co_return;
  }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "crash") throw std::runtime_error("asked to crash");
    if (text == "hold") {  // a slow session: takes nothing more until released
      co_await self().receive([](const Release&) {});
      c.send("released");
      co_return;
    }
    if (text == "bye") {  // a last word, then a close: the word goes first
      c.send("goodbye");
      c.close(4000, "done");
      co_return;
    }
    if (text == "burst") {  // frames of every header size, written together
      for (std::size_t i = 0; i < burst_sizes.size(); ++i)
        c.send(std::string(burst_sizes[i], static_cast<char>('a' + i)),
               i % 2 ? MessageKind::binary : MessageKind::text);
      co_return;
    }
    if (text.starts_with("bcast:")) {
      broadcast(text.substr(6), c.id());
    } else if (text.starts_with("tag:")) {
      c.tag(std::string(text.substr(4)));
      c.send("tagged");
    } else if (text.starts_with("who:")) {
      c.send(std::to_string(connections(text.substr(4)).size()));
    } else {
      c.send(text);
    }
    co_return;
  }
  // The application pushes to a room from outside: rt.send("rooms/<name>", text).
  void handle_unexpected(AnyMessage& m) {
    if (m.is<std::string>()) broadcast(m.get<std::string>());
  }
  Task<> on_stop() {
    life->stopped();
    co_return;
  }
};

struct Fixture {
  Runtime rt{{.schedulers = 2}};
  Lifecycle life;
  Gateway gateway{rt, {.server = quick_options()}};

  explicit Fixture(RouteOptions options = {}) {
    gateway.route(
        "/rooms", [this] { return std::make_unique<Room>(&life); }, options);
    CHECK_FALSE(gateway.start());
  }
  ~Fixture() {
    gateway.stop();
    rt.shutdown();
  }
};

std::string next_text(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

}  // namespace

TEST_GROUP(Session) {
  Watchdog watchdog{60s};
};

TEST(Session, ConnectionReachesTheSessionOfItsName) {
  Fixture f;
  WsTestClient client;
  auto c = client.connect(f.gateway.port(), "/rooms/lobby");
  CHECK_TRUE(c->wait_open(3s));
  STRCMP_EQUAL("hello lobby", next_text(*c).c_str());
  c->send("ping");
  STRCMP_EQUAL("ping", next_text(*c).c_str());
  CHECK_TRUE(f.rt.registry().whereis("rooms/lobby").valid());
}

TEST(Session, RacingConnectsToOneNameStartOneSession) {
  Fixture f;
  WsTestClient client;
  constexpr int n = 1000;
  std::vector<std::shared_ptr<ClientConnection>> conns;
  for (int i = 0; i < n; ++i) conns.push_back(client.connect(f.gateway.port(), "/rooms/crowd"));
  for (auto& c : conns) {
    CHECK_TRUE(c->wait_open(10s));
    STRCMP_EQUAL("hello crowd", next_text(*c).c_str());
  }
  LONGS_EQUAL(1, f.life.starts.load());
  LONGS_EQUAL(1, f.rt.registry().list("rooms/").size());
}

TEST(Session, BroadcastSkipsTheSenderAndTagsSelectConnections) {
  Fixture f;
  WsTestClient client;
  std::vector<std::shared_ptr<ClientConnection>> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(client.connect(f.gateway.port(), "/rooms/talk"));
    CHECK_TRUE(conns.back()->wait_open(3s));
    STRCMP_EQUAL("hello talk", next_text(*conns.back()).c_str());
  }
  conns[0]->send("bcast:news");
  STRCMP_EQUAL("news", next_text(*conns[1]).c_str());
  STRCMP_EQUAL("news", next_text(*conns[2]).c_str());
  // Had the sender got it too, it would come before this echo.
  conns[0]->send("echo");
  STRCMP_EQUAL("echo", next_text(*conns[0]).c_str());

  conns[1]->send("tag:red");
  STRCMP_EQUAL("tagged", next_text(*conns[1]).c_str());
  conns[2]->send("who:red");
  STRCMP_EQUAL("1", next_text(*conns[2]).c_str());
  conns[2]->send("who:");
  STRCMP_EQUAL("3", next_text(*conns[2]).c_str());
}

TEST(Session, FramesSentTogetherArriveWholeAndInOrder) {
  Fixture f;
  WsTestClient client;
  auto c = client.connect(f.gateway.port(), "/rooms/burst");
  CHECK_TRUE(c->wait_open(3s));
  STRCMP_EQUAL("hello burst", next_text(*c).c_str());
  c->send("burst");
  for (std::size_t i = 0; i < burst_sizes.size(); ++i) {
    auto m = c->next_message(5s);
    CHECK_TRUE(m.has_value());
    LONGS_EQUAL(burst_sizes[i], m->data.size());
    CHECK_TRUE(m->data == std::string(burst_sizes[i], static_cast<char>('a' + i)));
    CHECK_TRUE(m->kind == (i % 2 ? MessageKind::binary : MessageKind::text));
  }
  c->send("after");
  STRCMP_EQUAL("after", next_text(*c).c_str());
}

TEST(Session, AFrameSentJustBeforeACloseArrivesBeforeTheClose) {
  Fixture f;
  WsTestClient client;
  auto c = client.connect(f.gateway.port(), "/rooms/farewell");
  CHECK_TRUE(c->wait_open(3s));
  STRCMP_EQUAL("hello farewell", next_text(*c).c_str());
  c->send("bye");
  STRCMP_EQUAL("goodbye", next_text(*c).c_str());
  auto closed = c->wait_closed(3s);
  CHECK_TRUE(closed.has_value());
  LONGS_EQUAL(4000, closed->code);
}

TEST(Session, CrashKeepsConnectionsOpenAndFramesInOrder) {
  Fixture f({.hand_over_interrupted = true});
  WsTestClient client;
  auto a = client.connect(f.gateway.port(), "/rooms/fragile");
  auto b = client.connect(f.gateway.port(), "/rooms/fragile");
  CHECK_TRUE(a->wait_open(3s) && b->wait_open(3s));
  STRCMP_EQUAL("hello fragile", next_text(*a).c_str());
  STRCMP_EQUAL("hello fragile", next_text(*b).c_str());
  Pid before = f.rt.registry().whereis("rooms/fragile");

  for (const char* m : {"1", "2", "crash", "3", "4"}) a->send(m);
  STRCMP_EQUAL("1", next_text(*a).c_str());
  STRCMP_EQUAL("2", next_text(*a).c_str());
  // Both connections are handed to the restarted session, which learns
  // what it was handling when it crashed ...
  STRCMP_EQUAL("hello fragile resumed after crash", next_text(*a).c_str());
  STRCMP_EQUAL("hello fragile resumed", next_text(*b).c_str());
  // ... and what was sent while it restarted arrives, in order.
  STRCMP_EQUAL("3", next_text(*a).c_str());
  STRCMP_EQUAL("4", next_text(*a).c_str());
  b->send("still here");
  STRCMP_EQUAL("still here", next_text(*b).c_str());
  Pid after = f.rt.registry().whereis("rooms/fragile");
  CHECK_TRUE(after.valid() && after != before);
  LONGS_EQUAL(2, f.life.starts.load());
  // One restart of one session, however many connections it had.
  LONGS_EQUAL(1, metric(f.gateway.port(), "troupe_session_restarts_total{route=\"/rooms\"}"));
}

TEST(Session, TheConnectionWhoseFrameCrashedTheSessionIsClosedWith1011) {
  Fixture f;
  WsTestClient client;
  auto a = client.connect(f.gateway.port(), "/rooms/brittle");
  auto b = client.connect(f.gateway.port(), "/rooms/brittle");
  CHECK_TRUE(a->wait_open(3s) && b->wait_open(3s));
  STRCMP_EQUAL("hello brittle", next_text(*a).c_str());
  STRCMP_EQUAL("hello brittle", next_text(*b).c_str());
  a->send("crash");
  // Its request was lost with the session: it hears so, never silence ...
  auto closed = a->wait_closed(5s);
  CHECK_TRUE(closed.has_value());
  LONGS_EQUAL(1011, closed->code);
  // ... while the other connection is handed to the next incarnation.
  STRCMP_EQUAL("hello brittle resumed", next_text(*b).c_str());
  b->send("still here");
  STRCMP_EQUAL("still here", next_text(*b).c_str());
}

TEST(Session, CloseOnCrashClosesWith1012) {
  Fixture f({.close_on_crash = true});
  // A raw client: lws's client refuses 1012, which RFC 6455 registered later.
  RawClient raw;
  CHECK_TRUE(raw.connect(f.gateway.port()));
  LONGS_EQUAL(101, raw.upgrade("/rooms/strict"));
  auto hello = raw.read_frame(3s);
  CHECK_TRUE(hello && hello->payload == "hello strict");
  CHECK_TRUE(raw.send_frame(opcode::text, "crash"));
  auto closing = raw.read_frame(5s);
  CHECK_TRUE(closing.has_value());
  LONGS_EQUAL(opcode::close, closing->opcode);
  LONGS_EQUAL(1012, closing->close_code());
}

TEST(Session, AuthorizeRejectsBeforeAnySessionStarts) {
  Fixture f({.authorize = [](const HttpRequest& r) {
    return r.query_param("token") == "secret" ? Admission::admit() : Admission::reject(401);
  }});
  RawClient raw;
  CHECK_TRUE(raw.connect(f.gateway.port()));
  LONGS_EQUAL(401, raw.upgrade("/rooms/vault"));
  WsTestClient client;
  auto ok = client.connect(f.gateway.port(), "/rooms/vault?token=secret");
  CHECK_TRUE(ok->wait_open(3s));
  STRCMP_EQUAL("hello vault", next_text(*ok).c_str());
  LONGS_EQUAL(1, f.life.starts.load());
}

TEST(Session, ConnectionsPerSessionAreLimitedWith503) {
  Fixture f({.limits = {.max_connections_per_name = 2}});
  WsTestClient client;
  auto a = client.connect(f.gateway.port(), "/rooms/small");
  auto b = client.connect(f.gateway.port(), "/rooms/small");
  CHECK_TRUE(a->wait_open(3s) && b->wait_open(3s));
  RawClient full;
  CHECK_TRUE(full.connect(f.gateway.port()));
  LONGS_EQUAL(503, full.upgrade("/rooms/small"));
  RawClient other;  // another session of the route is not affected
  CHECK_TRUE(other.connect(f.gateway.port()));
  LONGS_EQUAL(101, other.upgrade("/rooms/big"));
  // The two admitted ones talk to their session as usual.
  a->send("echo");
  STRCMP_EQUAL("hello small", next_text(*a).c_str());
  STRCMP_EQUAL("echo", next_text(*a).c_str());
  STRCMP_EQUAL("hello small", next_text(*b).c_str());
}

TEST(Session, AConnectionThatOutrunsItsSessionIsNotReadUntilItCatchesUp) {
  Fixture f({.max_pending_frames = 8});
  WsTestClient client;
  auto fast = client.connect(f.gateway.port(), "/rooms/slow");
  CHECK_TRUE(fast->wait_open(3s));
  STRCMP_EQUAL("hello slow", next_text(*fast).c_str());
  fast->send("hold");
  for (int i = 0; i < 60; ++i) fast->send("echo");
  // The held session takes nothing: the gateway stops reading the socket
  // at half of max_pending_frames, so the client waits in TCP and the queue
  // stays within the bound, and nobody is closed.
  for (int i = 0; i < 20; ++i) {
    CHECK_TRUE(metric(f.gateway.port(), "troupe_session_pending_frames{route=\"/rooms\"}") <= 8);
    std::this_thread::sleep_for(10ms);  // sampling a gauge over time: no event to wait on
  }
  CHECK_FALSE(fast->wait_closed(0ms).has_value());
  // Released, the session catches up, the socket is read again, and every
  // frame is answered in order.
  CHECK_TRUE(f.rt.send("rooms/slow", Release{}) == SendResult::ok);
  STRCMP_EQUAL("released", next_text(*fast).c_str());
  for (int i = 0; i < 60; ++i) STRCMP_EQUAL("echo", next_text(*fast).c_str());
  LONGS_EQUAL(0, metric(f.gateway.port(), "troupe_session_pending_frames{route=\"/rooms\"}"));
  CHECK_FALSE(fast->wait_closed(0ms).has_value());
}

TEST(Session, TheApplicationCanPushToASessionByName) {
  Fixture f;
  WsTestClient client;
  auto a = client.connect(f.gateway.port(), "/rooms/news");
  CHECK_TRUE(a->wait_open(3s));
  STRCMP_EQUAL("hello news", next_text(*a).c_str());
  CHECK_TRUE(f.rt.send("rooms/news", std::string("breaking")) == SendResult::ok);
  STRCMP_EQUAL("breaking", next_text(*a).c_str());
}

TEST(Session, HealthAndMetricsAnswerOverHttp) {
  Fixture f;
  WsTestClient client;
  auto a = client.connect(f.gateway.port(), "/rooms/stats");
  CHECK_TRUE(a->wait_open(3s));
  STRCMP_EQUAL("hello stats", next_text(*a).c_str());
  LONGS_EQUAL(1, metric(f.gateway.port(), "troupe_sessions{route=\"/rooms\"}"));
  LONGS_EQUAL(1, metric(f.gateway.port(), "troupe_connections"));
  LONGS_EQUAL(0, metric(f.gateway.port(), "troupe_session_restarts_total{route=\"/rooms\"}"));
}

// --- sessions that resume their persisted state ---------------------------------------------

namespace {

struct Tally {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// Counts "+" frames; acknowledges each once it is committed (lazy: at once,
// the state written only when the session stops); crashes on "crash".
struct Counter : PersistentSession<Counter, Tally> {
  Counter(Lifecycle* life, bool lazy = false) : life(life), lazy(lazy) {}
  Lifecycle* life;
  bool lazy;

  void on_start() { ++life->starts; }
  void on_connect(Connection& c, const ConnectInfo&) { c.send(std::to_string(state().n)); }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "crash") throw std::runtime_error("asked to crash");
    if (lazy) {
      mutate(Durability::on_stop()).n += 1;
    } else {
      mutate().n += 1;
      co_await commit_or_exit();
    }
    c.send("ack " + std::to_string(state().n));
  }
  void on_stop() { life->stopped(); }
};

}  // namespace

TEST(Session, StoppingTheGatewayRunsOnStopSoStateWrittenOnlyThenIsKept) {
  Runtime rt({.schedulers = 2});
  TempFileStore files(rt);
  Persistence store(files.client());
  Lifecycle life;
  auto serve = [&](Gateway& gateway) {
    gateway.route("/lazy", [&] { return std::make_unique<Counter>(&life, true); });
    CHECK_FALSE(gateway.start());
  };
  {
    Gateway gateway(rt, {.server = quick_options(), .persistence = &store});
    serve(gateway);
    WsTestClient client;
    auto a = client.connect(gateway.port(), "/lazy/votes");
    CHECK_TRUE(a->wait_open(3s));
    STRCMP_EQUAL("0", next_text(*a).c_str());
    for (int i = 0; i < 3; ++i) a->send("+");
    STRCMP_EQUAL("ack 1", next_text(*a).c_str());
    STRCMP_EQUAL("ack 2", next_text(*a).c_str());
    STRCMP_EQUAL("ack 3", next_text(*a).c_str());
    gateway.stop();
    CHECK_TRUE(life.wait_stops(1));
    auto closed = a->wait_closed(3s);
    CHECK_TRUE(closed.has_value());
    LONGS_EQUAL(close_code::going_away, closed->code);
  }
  CHECK_TRUE(rt.run_for(10s));
  Gateway again(rt, {.server = quick_options(), .persistence = &store});
  serve(again);
  WsTestClient client;
  auto b = client.connect(again.port(), "/lazy/votes");
  CHECK_TRUE(b->wait_open(3s));
  STRCMP_EQUAL("3", next_text(*b).c_str());
  again.stop();
  CHECK_TRUE(rt.run_for(10s));
  files.close();
  rt.shutdown();
}
