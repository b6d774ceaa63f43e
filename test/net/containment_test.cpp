// Faults stay where they start: a name whose session cannot start is backed
// off and then refused for itself alone, with an answer to each of its
// clients; its route's other names, the other routes and the root go on.
// Names the store cannot hold are refused before the upgrade. A root that
// gives up ends the process, and /healthz tells the truth meanwhile.

#include <CppUTest/TestHarness.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "net/gateway/gateway.hpp"
#include "persist/persistence.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/temp_file_store.hpp"
#include "test/net/ws_client.hpp"
#include "test/support/sanitizers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Echoes; a session whose name starts with "bad" fails at every start, as
// one whose snapshot cannot be read or whose store is down would.
struct Fragile : Session<Fragile> {
  Task<> on_start() {
    if (name().starts_with("bad")) throw std::runtime_error("cannot start " + name());
    co_return;
  }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    c.send(text);
    co_return;
  }
};

const char* const routes[] = {"/a", "/b", "/c"};

std::string next_text(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

// What a client of the crash-looping name was told.
struct Answers {
  std::atomic<int> refused{0};     // 503 before the upgrade
  std::atomic<int> closed{0};      // upgraded, then closed with 1011 or 1013
  std::atomic<int> unanswered{0};  // neither: silence, a drop, another code
};

// One looping attacker: connects to `path` until `stop`, at most 200 times.
void attack(std::uint16_t port, std::string path, const std::atomic<bool>& stop, Answers& out) {
  for (int i = 0; i < 200 && !stop; ++i) {
    RawClient raw;
    if (!raw.connect(port)) {
      ++out.unanswered;
      continue;
    }
    int status = raw.upgrade(path);
    if (status == 503) {
      ++out.refused;
      continue;
    }
    if (status != 101) {
      ++out.unanswered;
      continue;
    }
    auto frame = raw.read_frame(10s);
    if (frame && frame->opcode == opcode::close &&
        (frame->close_code() == 1011 || frame->close_code() == 1013))
      ++out.closed;
    else
      ++out.unanswered;
  }
}

}  // namespace

TEST_GROUP(Containment) {
  Watchdog watchdog{90s};
};

TEST(Containment, ACrashLoopingNameCostsNoOtherNameItsRouteOrTheRoot) {
  Runtime rt({.schedulers = 2});
  std::atomic<int> root_failures{0};
  Gateway gateway(rt, {.server = quick_options(), .on_root_failure = [&](const ExitReason&) {
                         ++root_failures;
                       }});
  for (const char* route : routes) gateway.route(route, [] { return std::make_unique<Fragile>(); });
  CHECK_FALSE(gateway.start());
  const std::uint16_t port = gateway.port();

  // A control room on every route, before the storm.
  WsTestClient client;
  std::vector<std::shared_ptr<ClientConnection>> controls;
  std::vector<Pid> control_pids;
  for (const char* route : routes) {
    controls.push_back(client.connect(port, std::string(route) + "/control"));
    CHECK_TRUE(controls.back()->wait_open(3s));
    controls.back()->send("before");
    STRCMP_EQUAL("before", next_text(*controls.back()).c_str());
    control_pids.push_back(rt.registry().whereis(std::string(route).substr(1) + "/control"));
    CHECK_TRUE(control_pids.back().valid());
  }

  // Five looping clients per route on a name that cannot start.
  std::atomic<bool> stop{false};
  Answers answers[3];
  std::vector<std::thread> attackers;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 5; ++i)
      attackers.emplace_back(attack, port, std::string(routes[r]) + "/bad-room", std::cref(stop),
                             std::ref(answers[r]));

  // The control rooms keep answering throughout, until every route's bad
  // name has been refused (or the attack has run long enough).
  int round_trips = 0;
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& c : controls) {
      c->send("ping " + std::to_string(round_trips));
      STRCMP_EQUAL(("ping " + std::to_string(round_trips)).c_str(), next_text(*c).c_str());
    }
    ++round_trips;
    if (answers[0].refused > 0 && answers[1].refused > 0 && answers[2].refused > 0 &&
        round_trips >= 50)
      break;
  }
  stop = true;
  for (auto& t : attackers) t.join();

  for (int r = 0; r < 3; ++r) {
    // Each bad name was refused for itself, and every client heard so.
    CHECK_TRUE(answers[r].refused > 0);
    LONGS_EQUAL(0, answers[r].unanswered.load());
    // The control room is the same incarnation: never restarted.
    std::string route = routes[r];
    CHECK_TRUE(rt.registry().whereis(route.substr(1) + "/control") == control_pids[r]);
    LONGS_EQUAL(1, metric(port, "troupe_sessions_refused{route=\"" + route + "\"}"));
  }
  // A name of the same route that is fine starts as usual meanwhile.
  auto fresh = client.connect(port, "/a/fresh");
  CHECK_TRUE(fresh->wait_open(3s));
  fresh->send("hi");
  STRCMP_EQUAL("hi", next_text(*fresh).c_str());
  LONGS_EQUAL(0, root_failures.load());
  auto [status, body] = http_get(port, "/healthz");
  LONGS_EQUAL(200, status);
  gateway.stop();
  rt.shutdown();
}

TEST(Containment, ARefusedNameClosesItsClientsWith1013AndRefusesUpgradesWith503) {
  Runtime rt({.schedulers = 2});
  std::atomic<bool> broken{true};
  struct Flaky : Session<Flaky> {
    explicit Flaky(std::atomic<bool>* broken) : broken(broken) {}
    std::atomic<bool>* broken;
    Task<> on_start() {
      if (*broken) throw std::runtime_error("store down");
      co_return;
    }
    Task<> on_message(Connection& c, std::string_view text, MessageKind) {
      c.send(text);
      co_return;
    }
  };
  CrashPolicy crash;
  crash.max_crashes = 1;  // refused at its first quick crash: the wire is the point here
  Gateway gateway(rt, {.server = quick_options()});
  gateway.route("/r", [&] { return std::make_unique<Flaky>(&broken); }, {.crash = crash});
  CHECK_FALSE(gateway.start());
  // A raw client: lws's client turns 1013, registered after RFC 6455, into 1002.
  RawClient first;
  CHECK_TRUE(first.connect(gateway.port()));
  LONGS_EQUAL(101, first.upgrade("/r/room"));
  auto closed = first.read_frame(10s);
  CHECK_TRUE(closed && closed->opcode == opcode::close);
  LONGS_EQUAL(1013, closed->close_code());  // refused: try again later
  CHECK_TRUE(closed->payload.find("try again later") != std::string::npos);
  RawClient raw;
  CHECK_TRUE(raw.connect(gateway.port()));
  LONGS_EQUAL(503, raw.upgrade("/r/room"));
  // That the name serves again once its refusal has passed is session
  // logic on the clock: test/testing/session_containment_test.cpp runs it
  // on virtual time.
  gateway.stop();
  rt.shutdown();
}

TEST(Containment, NamesTheStoreCannotHoldAreRefusedBeforeTheUpgrade) {
  Runtime rt({.schedulers = 2});
  TempFileStore files(rt);
  Persistence actors(files.client());
  {
    Gateway gateway(rt, {.server = quick_options(), .persistence = &actors});
    gateway.route("/a", [] { return std::make_unique<Fragile>(); });
    CHECK_FALSE(gateway.start());
    auto status_of_name = [&](const std::string& name) {
      RawClient raw;
      CHECK_TRUE(raw.connect(gateway.port()));
      return raw.upgrade("/a/" + name);
    };
    // 229 plain bytes pass the route's name rule (256) but not a 255-byte file name.
    LONGS_EQUAL(400, status_of_name(std::string(229, 'n')));
    // Multi-byte characters take three bytes each in a file name, per byte.
    std::string accents;
    for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";  // é
    LONGS_EQUAL(400, status_of_name(accents));
    LONGS_EQUAL(101, status_of_name(std::string(100, 'n')));
    auto [status, body] = http_get(gateway.port(), "/healthz");
    LONGS_EQUAL(200, status);
    gateway.stop();
  }
  files.close();
  rt.shutdown();
}

namespace {

// Kills the route's session supervisor until the root gives up.
void kill_route_supervisor_until(Runtime& rt, const std::function<bool()>& done) {
  Pid last;
  for (int i = 0; i < 200 && !done(); ++i) {
    Pid sup = rt.registry().whereis("gateway.sessions/a");
    if (sup && sup != last) {
      rt.exit(sup, troupe::kill);
      last = sup;
    }
    std::this_thread::sleep_for(5ms);  // polling for the restarted supervisor
  }
}

}  // namespace

TEST(Containment, WhenTheRootGivesUpHealthzSaysSoAndTheHookRuns) {
  Runtime rt({.schedulers = 2});
  std::atomic<int> root_failures{0};
  Gateway gateway(rt, {.server = quick_options(), .on_root_failure = [&](const ExitReason&) {
                         ++root_failures;
                       }});
  gateway.route("/a", [] { return std::make_unique<Fragile>(); });
  CHECK_FALSE(gateway.start());
  LONGS_EQUAL(200, http_get(gateway.port(), "/healthz").first);
  kill_route_supervisor_until(rt, [&] { return root_failures > 0; });
  LONGS_EQUAL(1, root_failures.load());
  auto [status, body] = http_get(gateway.port(), "/healthz");
  LONGS_EQUAL(503, status);
  CHECK_TRUE(body.find("root supervisor gave up") != std::string::npos);
  gateway.stop();
  rt.shutdown();
}

// Forks a child that starts threads: ignored under TSan.
TSAN_IGNORE_TEST(Containment, ByDefaultAProcessWhoseRootGaveUpExitsWith70) {
  std::fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    // Only this thread exists in the child; the runtime starts here.
    Runtime rt({.schedulers = 2});
    Gateway gateway(rt, {.server = quick_options()});
    gateway.route("/a", [] { return std::make_unique<Fragile>(); });
    if (gateway.start()) _exit(1);
    kill_route_supervisor_until(rt, [] { return false; });
    _exit(0);  // still alive: the default did not exit
  }
  CHECK_TRUE(child > 0);
  int status = 0;
  CHECK_EQUAL(child, waitpid(child, &status, 0));
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL(70, WEXITSTATUS(status));
}
