// SessionHarness (testing/session_harness.hpp): a session's logic under
// test without sockets, through the gateway's own route, relay and session
// loop, on virtual time.

#include "testing/session_harness.hpp"

#include <CppUTest/TestHarness.h>

#include <msgpack.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/gateway/persistent_session.hpp"
#include "persist/memory_store.hpp"
#include "testing/cpputest.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::ClientOptions;
using troupe::testing::ExpectationFailed;
using troupe::testing::SessionHarness;
using troupe::testing::TestRuntime;

namespace {

// What the sessions did, in order, across incarnations.
struct Journal {
  std::vector<std::string> events;
  int starts = 0;
  int stops = 0;
};

// Greets ("hello <name>", "resumed" after a hand-over), echoes, broadcasts
// "all:<text>" to the others, closes on "bye" with 4000, crashes on
// "crash", answers "count" with its number of connections.
struct Room : Session<Room> {
  explicit Room(Journal* j) : journal(j) {}
  Journal* journal;

  void on_start() { ++journal->starts; }
  void on_connect(Connection& c, const ConnectInfo& info) {
    journal->events.push_back("connect" + std::string(info.resumed ? " resumed" : ""));
    c.send("hello " + name() + (info.resumed ? " resumed" : ""));
  }
  Task<> on_message(Connection& c, std::string_view text, MessageKind kind) {
    journal->events.push_back("message " + std::string(text));
    if (text == "crash") throw std::runtime_error("asked to crash");
    if (text == "bye") {
      c.send("goodbye");
      c.close(4000, "done");
      c.send("after the close");  // not sent: the connection is closing
    } else if (text.starts_with("all:")) {
      broadcast(text.substr(4), c.id());
    } else if (text == "count") {
      c.send(std::to_string(connection_count()));
    } else {
      c.send(text, kind);
    }
    co_return;
  }
  void on_close(Connection&, std::uint16_t code, std::string_view) {
    journal->events.push_back("close " + std::to_string(code));
  }
  void on_stop() { ++journal->stops; }
};

struct Tally {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// Sends its count on connect; "+" counts one, committed before its ack;
// "crash" crashes it.
struct Counter : PersistentSession<Counter, Tally> {
  explicit Counter(int* starts) : starts(starts) {}
  int* starts;
  void on_start() { ++*starts; }
  void on_connect(Connection& c, const ConnectInfo&) { c.send(std::to_string(state().n)); }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "crash") throw std::runtime_error("asked to crash");
    mutate().n += 1;
    co_await commit_or_exit();
    c.send("ack " + std::to_string(state().n));
  }
};

// Failures throw ExpectationFailed instead of failing the test, for tests
// of the failures themselves.
struct ThrowingFailures {
  ThrowingFailures() { troupe::testing::set_failure_handler({}); }
  ~ThrowingFailures() {
    troupe::testing::set_failure_handler(&troupe::testing::report_to_cpputest);
  }
};

auto room(Journal& j) {
  return [&j] {
    return std::make_unique<Room>(&j);
  };
}

}  // namespace

TEST_GROUP(SessionHarness){};

TEST(SessionHarness, FramesReachTheSessionAndItsAnswersComeBackInOrder) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& c = h.connect();
  CHECK_FALSE(h.alive());  // nothing runs until the test runs it
  c.send("one");
  c.send("two", MessageKind::binary);
  c.expect_frame("hello lobby");
  STRCMP_EQUAL("one", c.next_frame().c_str());
  STRCMP_EQUAL("two", c.next_frame().c_str());
  CHECK(c.frames()[2].kind == MessageKind::binary);
  c.expect_no_frame();
  CHECK_TRUE(h.alive());
  LONGS_EQUAL(1, j.starts);
}

TEST(SessionHarness, BroadcastReachesTheOthersButNotTheSender) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& a = h.connect();
  auto& b = h.connect();
  auto& c = h.connect();
  // All three joined first: a frame sent before would reach the session
  // ahead of the later connections (they are handed over in order).
  for (auto* client : {&a, &b, &c}) client->expect_frame("hello lobby");
  a.send("all:news");
  b.expect_frame("news");
  c.expect_frame("news");
  a.expect_no_frame();
}

TEST(SessionHarness, OneSessionPerNameAndClientsReachTheirOwn) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& a = h.connect();
  auto& b = h.connect({.name = "attic"});
  a.expect_frame("hello lobby");
  b.expect_frame("hello attic");
  STRCMP_EQUAL("rooms/attic", b.session().c_str());
  CHECK_TRUE(h.alive() && h.alive("attic"));
  CHECK(h.pid() != h.pid("attic"));
}

TEST(SessionHarness, ADisconnectIsHeardAfterTheFramesSentBeforeIt) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& stays = h.connect();
  auto& leaves = h.connect();
  stays.expect_frame("hello");
  leaves.expect_frame("hello");
  leaves.send("last words");
  leaves.disconnect(close_code::going_away);
  CHECK_TRUE(leaves.disconnected());
  stays.send("count");
  stays.expect_frame("1");
  const std::vector<std::string> expected{"connect", "connect", "message last words", "close 1001",
                                          "message count"};
  CHECK(expected == j.events);
  // The echo to the client that left was not delivered anywhere.
  LONGS_EQUAL(1, leaves.frames().size());
}

TEST(SessionHarness, TheSessionClosesAConnectionAfterItsLastWord) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& c = h.connect();
  c.send("bye");
  c.expect_frame("hello");
  c.expect_frame("goodbye");
  auto closed = c.expect_closed();
  LONGS_EQUAL(4000, closed.code);
  STRCMP_EQUAL("done", closed.reason.c_str());
  CHECK_FALSE(c.open());
  c.expect_no_frame();  // "after the close" was refused
  // The session hears of the close as from a client that answered it.
  CHECK(j.events.back() == "close 4000");
}

TEST(SessionHarness, AnIdleSessionStopsAfterItsTimeoutOnVirtualTime) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j), {.route = {.idle_timeout = 30s}});
  auto& a = h.connect();
  a.expect_frame("hello");
  t.advance(1h);  // idle counts only while nobody is connected
  CHECK_TRUE(h.alive());
  a.disconnect();
  t.advance(30s - 1ms);
  CHECK_TRUE(h.alive());
  LONGS_EQUAL(0, j.stops);
  t.advance(1ms);
  CHECK_FALSE(h.alive());
  LONGS_EQUAL(1, j.stops);
  // The next connection starts it again.
  auto& b = h.connect();
  b.expect_frame("hello lobby");
  LONGS_EQUAL(2, j.starts);
}

TEST(SessionHarness, ACrashRestartsTheSessionAndHandsTheConnectionsOver) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& a = h.connect();
  auto& b = h.connect();
  a.expect_frame("hello lobby");
  b.expect_frame("hello lobby");
  const Pid first = h.pid();
  h.crash();
  CHECK_FALSE(h.alive());
  a.send("still here");  // waits for the next incarnation
  h.run_until([&] { return h.alive(); }, "the next incarnation");
  CHECK(h.pid() != first);

  a.expect_frame("hello lobby resumed");
  a.expect_frame("still here");
  b.expect_frame("hello lobby resumed");
  CHECK_TRUE(a.open() && b.open());
  CHECK(h.pid() != first);
  LONGS_EQUAL(2, j.starts);
  LONGS_EQUAL(0, j.stops);  // a crash runs no on_stop
}

TEST(SessionHarness, TheConnectionWhoseFrameCrashedTheSessionIsClosedWith1011) {
  TestRuntime t;
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& culprit = h.connect();
  auto& bystander = h.connect();
  culprit.expect_frame("hello");
  bystander.expect_frame("hello");
  culprit.send("crash");
  LONGS_EQUAL(close_code::internal_error, culprit.expect_closed().code);
  bystander.expect_frame("hello lobby resumed");
  bystander.send("count");
  bystander.expect_frame("1");
}

TEST(SessionHarness, ANameThatKeepsCrashingBacksOffThenIsRefused) {
  TestRuntime t;
  Journal j;
  CrashPolicy policy;
  policy.backoff.jitter = 0;
  policy.max_crashes = 3;
  SessionHarness<Room> h(t, "rooms/lobby", room(j), {.route = {.crash = policy}});
  auto& c = h.connect();
  c.expect_frame("hello lobby");
  h.crash();  // after a run of 0 s: a quick crash
  c.expect_frame("resumed");
  h.crash();  // the second quick crash in a row waits backoff_delay(0) = 100 ms
  t.advance(100ms - 1ns);
  c.expect_no_frame();
  t.advance(1ns);
  c.expect_frame("resumed");
  h.crash();  // the third: refused for refuse_for (2 s), its clients told 1013
  LONGS_EQUAL(close_code::try_again_later, c.expect_closed().code);
  auto& later = h.connect();
  CHECK_TRUE(later.refused().has_value());
  LONGS_EQUAL(503, later.refused()->status);
  t.advance(2s);
  auto& after = h.connect();
  after.expect_frame("hello lobby");
}

TEST(SessionHarness, AuthorizeRefusesBeforeAnySessionStarts) {
  TestRuntime t;
  Journal j;
  RouteOptions route{.authorize = [](const HttpRequest& r) {
    return r.query_param("token") == "secret" ? Admission::admit() : Admission::reject(401);
  }};
  SessionHarness<Room> h(t, "rooms/vault", room(j), {.route = route});
  auto& stranger = h.connect();
  LONGS_EQUAL(401, stranger.refused()->status);
  t.run();
  CHECK_FALSE(h.alive());
  auto& friend_ = h.connect({.query = {{"token", "secret"}}});
  friend_.expect_frame("hello vault");
}

TEST(SessionHarness, InvalidUtf8TextIsRefusedAsTheServerWould) {
  struct Sender : Session<Sender> {
    void on_message(Connection& c, std::string_view, MessageKind) {
      c.send(c.send("\xc3\x28") ? "sent" : "refused");
    }
  };
  TestRuntime t;
  SessionHarness<Sender> h(t, "raw/x");
  auto& c = h.connect();
  c.send("go");
  c.expect_frame("refused");
}

TEST(SessionHarness, PersistentStateSurvivesACrashAndAnIdleStop) {
  TestRuntime t;
  MemoryStore store(t.loop());
  int starts = 0;
  SessionHarness<Counter> h(
      t, "count/visits", [&] { return std::make_unique<Counter>(&starts); },
      {.route = {.idle_timeout = 50ms, .hand_over_interrupted = true}, .store = &store});
  auto& a = h.connect();
  a.expect_frame("0");
  a.send("+");
  a.send("+");
  a.expect_frame("ack 1");
  a.expect_frame("ack 2");
  a.send("crash");
  a.send("+");
  a.expect_frame("2");  // the restarted session loaded 2
  a.expect_frame("ack 3");
  a.disconnect();
  t.advance(50ms);
  CHECK_FALSE(h.alive());
  auto& b = h.connect();
  b.expect_frame("3");  // started again from its snapshot
  LONGS_EQUAL(3, starts);
}

TEST(SessionHarness, AnExpectedFrameThatNeverComesFailsNamingTheSeed) {
  ThrowingFailures throwing;
  TestRuntime t(troupe::testing::TestOptions{.seed = 7});
  Journal j;
  SessionHarness<Room> h(t, "rooms/lobby", room(j));
  auto& c = h.connect();
  c.expect_frame("hello");
  try {
    c.next_frame();
    FAIL("next_frame should have failed");
  } catch (const ExpectationFailed& e) {
    std::string what = e.what();
    CHECK(what.find("rooms/lobby") != std::string::npos);
    CHECK(what.find("seed=7") != std::string::npos);
    CHECK(what.find("t.advance()") != std::string::npos);  // the gateway's timers are set
  }
  c.send("one");
  try {
    c.expect_frame("two");
    FAIL("expect_frame should have failed");
  } catch (const ExpectationFailed& e) {
    CHECK(std::string(e.what()).find("got \"one\"") != std::string::npos);
  }
  try {
    h.run_until([] { return false; }, "a frame that never comes");
    FAIL("run_until should have failed");
  } catch (const ExpectationFailed& e) {
    CHECK(std::string(e.what()).find("a frame that never comes") != std::string::npos);
  }
}

TEST(SessionHarness, TheSameSeedRunsTheSameCourse) {
  auto course = [](std::uint64_t seed) {
    TestRuntime t(troupe::testing::TestOptions{.seed = seed});
    Journal j;
    SessionHarness<Room> h(t, "rooms/lobby", room(j));
    auto& a = h.connect();
    auto& b = h.connect();
    a.send("all:x");
    b.send("all:y");
    a.disconnect();
    t.run();
    std::string frames;
    for (auto& f : b.frames()) frames += f.data + "|";
    return std::pair(t.trace_digest(), frames);
  };
  CHECK(course(11) == course(11));
  CHECK(course(12) == course(12));
}
