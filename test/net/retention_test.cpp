// Retention (GatewayOptions::retention) through a real gateway on a
// FileStore: the state of a name unused for the period is erased (its keys
// gone, /metrics counting fewer) while a running name's is kept, retention
// off keeps everything (as /metrics reports it), and erasing never overlaps
// an incarnation started meanwhile on another thread. The rules by the
// clock (recent names, names with an alarm, state older than retention,
// records when it is off) run on virtual time in
// test/testing/session_retention_test.cpp.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <msgpack.hpp>
#include <mutex>
#include <thread>

#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "persist/persistence.hpp"
#include "persist/persistent_state.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/temp_file_store.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Tally {
  long n = 0;
  MSGPACK_DEFINE(n);
};

struct Stops {
  std::mutex m;
  std::condition_variable cv;
  int stops = 0;
  void stopped() {
    std::lock_guard lock(m);
    ++stops;
    cv.notify_all();
  }
  bool wait_stops(int n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 5s, [&] { return stops >= n; });
  }
};

// Sends its count on connect; "+" adds one and acknowledges it once written.
// Its state is named after its registry name ("count/<name>").
struct Counter : PersistentSession<Counter, Tally> {
  explicit Counter(Stops* stops) : stops(stops) {}
  Stops* stops;

  void on_connect(Connection& c, const ConnectInfo&) { c.send(std::to_string(state().n)); }
  Task<> on_message(Connection& c, std::string_view, MessageKind) {
    mutate().n += 1;
    co_await commit_or_exit();
    c.send("ack " + std::to_string(state().n));
  }
  void on_stop() { stops->stopped(); }
};

std::string next_text(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

// Polls `done` every 10 ms for at most `limit`: whether it came true.
template <class F>
bool eventually(F done, milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
}

struct Fixture {
  Runtime rt{{.schedulers = 2}};
  TempFileStore files{rt};
  Persistence actors{files.client()};
  Stops stops;
  std::unique_ptr<Gateway> gateway;

  void start(Duration retention, Duration sweep = 20ms, Duration idle = 30ms) {
    gateway = std::make_unique<Gateway>(rt, GatewayOptions{.server = quick_options(),
                                                           .persistence = &actors,
                                                           .retention = retention,
                                                           .retention_sweep = sweep});
    gateway->route("/count", [this] { return std::make_unique<Counter>(&stops); },
                   {.idle_timeout = idle});
    CHECK_FALSE(gateway->start());
  }
  void stop() {
    gateway->stop();
    CHECK_TRUE(rt.run_for(10s));  // every process of this gateway ended, its root's watcher too
    gateway.reset();
  }
  ~Fixture() {
    if (gateway) stop();
    files.close();
    rt.shutdown();
  }

  std::vector<Item> stored(const std::string& prefix) {
    auto page = rt.run_on_async<StoreResult<Page>>(0, [&](auto done) {
      files.client().store().list(prefix, {.cursor = {}, .limit = 10000}, done);
    });
    CHECK_TRUE(page.ok());
    return page.value().items;
  }
  std::size_t keys(const std::string& prefix) { return stored(prefix).size(); }
  std::string state_of(const std::string& name) { return actors.actor_prefix("count/" + name); }
  long metric(const std::string& name) { return ::metric(gateway->port(), name); }
  // Waits until the sweeper has made `n` more passes from now.
  bool wait_passes(long n) {
    const long from = metric("troupe_retention_sweeps_total");
    return eventually([&] { return metric("troupe_retention_sweeps_total") >= from + n; });
  }

  // Connects to `name`, adds one, and closes; waits until the session stopped.
  void use_once(const std::string& name, long expect) {
    const int stopped = stops.stops;
    WsTestClient client;
    auto c = client.connect(gateway->port(), "/count/" + name);
    CHECK_TRUE(c->wait_open(3s));
    STRCMP_EQUAL(std::to_string(expect - 1).c_str(), next_text(*c).c_str());
    c->send("+");
    STRCMP_EQUAL(("ack " + std::to_string(expect)).c_str(), next_text(*c).c_str());
    c->close(1000, "bye");
    CHECK_TRUE(c->wait_closed(3s).has_value());
    CHECK_TRUE(stops.wait_stops(stopped + 1));
  }
};

}  // namespace

TEST_GROUP(Retention) {
  Watchdog watchdog{60s};
};

TEST(Retention, StateOfANameUnusedForThePeriodIsErasedWhileARunningNamesIsKept) {
  Fixture f;
  f.start(200ms);
  WsTestClient client;
  auto live = client.connect(f.gateway->port(), "/count/live");
  CHECK_TRUE(live->wait_open(3s));
  STRCMP_EQUAL("0", next_text(*live).c_str());
  live->send("+");
  STRCMP_EQUAL("ack 1", next_text(*live).c_str());
  f.use_once("old", 1);
  CHECK_TRUE(f.keys(f.state_of("old")) >= 2);  // head and a generation
  CHECK_EQUAL(1u, f.keys("used/count/old"));
  // The census counts both names' state before the erase.
  const long before = static_cast<long>(f.keys("actor/"));
  CHECK_TRUE(eventually([&] { return f.metric("troupe_stored_keys") == before; }));
  CHECK_TRUE(f.metric("troupe_stored_bytes") > 0);

  CHECK_TRUE(eventually([&] { return f.keys(f.state_of("old")) == 0; }));
  CHECK_TRUE(eventually([&] { return f.keys("used/count/old") == 0; }));  // deleted last
  CHECK_TRUE(eventually([&] { return f.metric("troupe_retention_erased_total") == 1; }));
  CHECK_TRUE(eventually([&] { return f.metric("troupe_stored_keys") < before; }));
  // "live" started before "old" and has run past the period: kept.
  CHECK_TRUE(f.wait_passes(2));
  CHECK_TRUE(f.keys(f.state_of("live")) >= 2);
  CHECK_EQUAL(1u, f.keys("used/count/live"));
  live->send("+");
  STRCMP_EQUAL("ack 2", next_text(*live).c_str());
  // The erased name starts again from its initial state.
  f.use_once("old", 1);
}

TEST(Retention, OffKeepsEverythingAndWritesNoUseRecords) {
  Fixture f;
  f.start(Duration::zero());
  f.use_once("kept", 1);
  const std::size_t stored = f.keys("actor/");
  CHECK_TRUE(stored >= 2);
  CHECK_TRUE(f.wait_passes(3));
  CHECK_EQUAL(stored, f.keys("actor/"));
  CHECK_EQUAL(0u, f.keys("used/"));
  LONGS_EQUAL(static_cast<long>(stored), f.metric("troupe_stored_keys"));
  LONGS_EQUAL(0, f.metric("troupe_retention_erased_total"));
}

// Sessions that stop and start again all the time while the sweeper erases
// them as soon as they stop: an erase never overlaps an incarnation (one
// that did would find its head gone and be fenced: a crash), and every
// start sees either the state its name had or none at all.
TEST(Retention, ErasingNeverOverlapsAnIncarnationThatStartsMeanwhile) {
  Fixture f;
  f.start(1ms, 1ms, 1ms);
  WsTestClient client;
  std::map<std::string, long> last;
  int fresh = 0;
  for (int i = 0; i < 150; ++i) {
    const std::string name = "n" + std::to_string(i % 3);
    auto c = client.connect(f.gateway->port(), "/count/" + name);
    CHECK_TRUE(c->wait_open(3s));
    const long greeting = std::atol(next_text(*c).c_str());
    CHECK_TRUE(greeting == 0 || greeting == last[name]);
    if (greeting == 0 && last[name] > 0) ++fresh;
    c->send("+");
    STRCMP_EQUAL(("ack " + std::to_string(greeting + 1)).c_str(), next_text(*c).c_str());
    last[name] = greeting + 1;
    c->close(1000, "bye");
    CHECK_TRUE(c->wait_closed(3s).has_value());
  }
  LONGS_EQUAL(0, f.metric("troupe_session_crashes_total{route=\"/count\"}"));
  CHECK_TRUE(eventually([&] { return f.keys("actor/") == 0; }));
  CHECK_TRUE(f.metric("troupe_retention_erased_total") >= 3);
  CHECK_TRUE(fresh > 0);  // measured: about 120 of the 150 starts
}
