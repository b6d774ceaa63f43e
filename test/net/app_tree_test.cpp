// The application as a supervision tree, as the example server declares it:
// a store connection (StoreConnection) and a gateway (Gateway::child_spec)
// as children of the application's supervisor. A killed gateway is
// restarted by that supervisor and serves again; the tree's shutdown stops
// the sessions (their state flushed) before the store closes.

#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "net/gateway/gateway.hpp"
#include "net/gateway/persistent_session.hpp"
#include "persist/store_connection.hpp"
#include "supervisors/supervisor.hpp"
#include "test/net/harness.hpp"
#include "test/net/ws_client.hpp"
#include "test/support/free_port.hpp"
#include "test/support/runtime_helpers.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Echo : Session<Echo> {
  void on_message(Connection& c, std::string_view text, MessageKind) { c.send(text); }
};

struct TallyState {
  long n = 0;
  MSGPACK_DEFINE(n);
};

// Acknowledges each increment with the new count, which is written only
// when the session stops: whether the count survives depends on the store
// still being open then.
struct Tally : PersistentSession<Tally, TallyState> {
  void on_connect(Connection& c, const ConnectInfo&) { c.send(std::to_string(state().n)); }
  void on_message(Connection& c, std::string_view, MessageKind) {
    mutate(Durability::on_stop()).n += 1;
    c.send(std::to_string(state().n));
  }
};

// The example server's main, small: the tree started, its children up.
struct App {
  App(const std::string& dir, std::uint16_t port)
      : store(rt, open_file_store({.directory = dir})),
        gateway(rt, {.server = {.port = port}, .persistence = &store.persistence()}) {
    gateway.route<Echo>("/echo");
    gateway.route<Tally>("/tally");
    ChildSpec served = gateway.child_spec();
    served.name = "app.gateway";
    root = rt.start(SupervisorSpec{.strategy = rest_for_one,
                                   .intensity = 3,
                                   .period = std::chrono::seconds(10),
                                   .children = {store.child_spec(), served}});
    // A supervisor answers once its children have started.
    CHECK_EQUAL(2u, children().size());
  }
  ~App() { shut_down(); }

  // What the root's supervisor reports, asked from a process.
  std::vector<ChildInfo> children() { return children_of(rt, root); }
  Pid child(const std::string& id) {
    for (const ChildInfo& c : children())
      if (c.id == id) return c.pid;
    return Pid{};
  }

  // Kills `victim` and returns the incarnation that replaced it under
  // `name`, once its supervisor has restarted it.
  Pid kill_and_await_restart(Pid victim, const std::string& name) {
    Pid next = rt.run_on_async<Pid>(0, [&](std::function<void(Pid)> done) {
      rt.spawn([victim, name, done](Process& self) -> Proc {
        Ref watch = self.monitor(victim);
        self.exit(victim, troupe::kill);
        co_await self.receive(
            when([watch](const Down& d) { return d.ref == watch; }, [](Down&) {}));
        for (;;) {  // the new incarnation registers its name as its start begins
          auto found = co_await self.runtime().registry().wait_for(self, name, 10s);
          if (!found) co_return done(Pid{});
          if (*found != victim) co_return done(*found);
        }
      });
    });
    // Answered only when the restart (which waits for the new incarnation's
    // start to finish) is over.
    CHECK(child("gateway") == next);
    return next;
  }

  // The tree's shutdown, as SIGTERM does it.
  void shut_down() {
    if (!rt.alive(root)) return;
    rt.exit(root, troupe::shutdown);
    rt.run();
  }

  Runtime rt{{.schedulers = 2, .handle_signals = false}};
  StoreConnection store;
  Gateway gateway;
  Pid root;
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

}  // namespace

TEST_GROUP(AppTree) {
  Watchdog watchdog{60s};
};

TEST(AppTree, AKilledGatewayIsRestartedByTheAppSupervisorAndServesAgain) {
  TempDir dir("app");
  const auto port = static_cast<std::uint16_t>(free_port());
  App app(dir.path(), port);
  WsTestClient client;
  auto before = client.connect(port, "/echo/a");
  CHECK_TRUE(before->wait_open(3s));
  before->send("one");
  STRCMP_EQUAL("one", next(*before).c_str());

  const Pid store = app.child("store");
  const Pid killed = app.child("gateway");
  const Pid restarted = app.kill_and_await_restart(killed, "app.gateway");
  CHECK_TRUE(restarted);
  CHECK(restarted != killed);
  CHECK(app.child("store") == store);  // rest_for_one: only what started after it
  CHECK_TRUE(app.store.is_open());

  // The new incarnation closed what the killed one left open ...
  CHECK_TRUE(before->wait_closed(5s).has_value());
  // ... and serves on the same port.
  auto after = client.connect(port, "/echo/a");
  CHECK_TRUE(after->wait_open(3s));
  after->send("two");
  STRCMP_EQUAL("two", next(*after).c_str());
}

TEST(AppTree, ShutdownStopsTheSessionsBeforeTheStoreClosesSoTheirLastStateIsKept) {
  TempDir dir("app");
  const auto port = static_cast<std::uint16_t>(free_port());
  {
    App app(dir.path(), port);
    WsTestClient client;
    auto c = client.connect(port, "/tally/a");
    CHECK_TRUE(c->wait_open(3s));
    STRCMP_EQUAL("0", next(*c).c_str());
    for (const char* acked : {"1", "2", "3"}) {
      c->send("+1");
      STRCMP_EQUAL(acked, next(*c).c_str());
    }
    app.shut_down();
    CHECK_FALSE(app.store.is_open());
  }
  App again(dir.path(), port);
  WsTestClient client;
  auto c = client.connect(port, "/tally/a");
  CHECK_TRUE(c->wait_open(3s));
  STRCMP_EQUAL("3", next(*c).c_str());  // the last acknowledged count
}
