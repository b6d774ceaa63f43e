// Session alarms through a real gateway and a FileStore: across a restart
// of the server, and the keeper's reading of the stored keys. Their logic
// (on a running session, on one the gateway starts for it after an idle
// stop, again after a crash in on_alarm, replaced or cancelled) runs on
// virtual time in test/testing/session_alarm_test.cpp.

#include <CppUTest/TestHarness.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "net/gateway/gateway.hpp"
#include "test/net/harness.hpp"
#include "test/net/stored_gateway.hpp"
#include "test/net/ws_client.hpp"
#include "test/support/alarm_clock.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// What the sessions' alarms did, for the test thread to wait on.
struct Rings {
  struct Ring {
    std::string session;
    std::size_t connections;
  };
  std::mutex m;
  std::condition_variable cv;
  std::vector<Ring> rings;
  int stops = 0;

  std::size_t ring(std::string session, std::size_t connections) {
    std::lock_guard lock(m);
    rings.push_back({std::move(session), connections});
    cv.notify_all();
    return rings.size();
  }
  void stopped() {
    std::lock_guard lock(m);
    ++stops;
    cv.notify_all();
  }
  bool wait_rings(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 10s, [&] { return rings.size() >= n; });
  }
  bool wait_stops(int n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 10s, [&] { return stops >= n; });
  }
  std::vector<Ring> snapshot() {
    std::lock_guard lock(m);
    return rings;
  }
};

using Clock = AlarmClock<Rings>;

struct AlarmServer {
  Rings rings;
  Duration idle;
  StoredGateway stored{[this](Gateway& g, Persistence&) {
    g.route("/clock", [this] { return std::make_unique<Clock>(&rings); }, {.idle_timeout = idle});
  }};

  explicit AlarmServer(Duration idle = 30s) : idle(idle) {}
  void start() { stored.start(); }
  void stop() { stored.stop(); }
  std::vector<std::string> stored_alarms() { return stored.stored_keys("alarms/"); }
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

}  // namespace

TEST_GROUP(Alarm) {
  Watchdog watchdog{60s};
};

TEST(Alarm, SurvivesARestartOfTheServer) {
  AlarmServer server(50ms);
  {
    WsTestClient client;
    auto c = client.connect(server.stored.port(), "/clock/durable");
    CHECK_TRUE(c->wait_open(3s));
    c->send("alarm:1500");
    STRCMP_EQUAL("set", next(*c).c_str());
  }
  auto keys = server.stored_alarms();
  LONGS_EQUAL(1, keys.size());
  STRCMP_EQUAL("alarms/clock/durable", keys[0].c_str());
  server.stop();
  LONGS_EQUAL(0, server.rings.snapshot().size());
  server.start();
  CHECK_TRUE(server.rings.wait_rings(1));
  STRCMP_EQUAL("durable", server.rings.snapshot()[0].session.c_str());
  // Cleared once it ran: a later restart does not run it again.
  CHECK_TRUE(server.rings.wait_stops(2));  // idle before the restart, and after the alarm
  CHECK_TRUE(server.stored_alarms().empty());
}

TEST(Alarm, AStoredAlarmThatIsNotATimeIsIgnoredAndTheOthersRing) {
  AlarmServer server;
  server.stop();
  server.stored.files.open();
  auto put = [&](std::string key, std::string value) {
    auto r = server.stored.rt.run_on_async<StoreResult<Revision>>(
        0, [&](auto done) { server.stored.files.client().store().put(key, value, done); });
    CHECK_TRUE(r.ok());
  };
  put("alarms/clock/broken", "soon");
  put("alarms/clock/fine", "0");  // long past: due at once
  server.start();
  CHECK_TRUE(server.rings.wait_rings(1));
  STRCMP_EQUAL("fine", server.rings.snapshot()[0].session.c_str());
  // The keeper had read both keys before "fine" rang: "broken" has no alarm.
  WsTestClient client;
  auto c = client.connect(server.stored.port(), "/clock/broken");
  CHECK_TRUE(c->wait_open(3s));
  c->send("when");
  STRCMP_EQUAL("none", next(*c).c_str());
  LONGS_EQUAL(1, server.rings.snapshot().size());
  // Nothing is lost: the key stays for someone to look at.
  auto keys = server.stored_alarms();
  CHECK_TRUE(std::find(keys.begin(), keys.end(), "alarms/clock/broken") != keys.end());
}
