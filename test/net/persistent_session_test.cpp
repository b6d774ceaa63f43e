// PersistentSession: the engine loads the state before on_start, handles
// the store's replies, flushes on every orderly stop and records a poison
// strike when the session crashes, so that a snapshot that keeps crashing
// its session is quarantined and the generation before it is loaded,
// exactly as for servers (test/persistence/recovery_test.cpp). Sessions
// also take typed calls and casts, on the same engine as Server<S>.

#include "net/gateway/persistent_session.hpp"

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <future>
#include <msgpack.hpp>
#include <stdexcept>
#include <string>

#include "net/gateway/gateway.hpp"
#include "runtime/server.hpp"
#include "test/net/harness.hpp"
#include "test/net/stored_gateway.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Doc {
  long n = 0;
  bool poison = false;
  MSGPACK_DEFINE(n, poison);
};

struct Add {
  long by = 0;
  using reply = long;
};
struct Shout {
  std::string text;
};

std::atomic<int> poisoned_starts{0};

// A document: its state crashes every start while it is poison.
struct DocSession : PersistentSession<DocSession, Doc> {
  using calls = types<Add>;
  using casts = types<Shout>;

  explicit DocSession(PersistentStateOptions options = {}) : PersistentSession({}, options) {}

  void on_start() {
    if (state().poison) {
      ++poisoned_starts;
      throw std::runtime_error("poison state");
    }
  }
  void on_connect(Connection& c, const ConnectInfo&) { c.send("n=" + std::to_string(state().n)); }
  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text == "poison")
      mutate() = Doc{2, true};
    else
      mutate().n += 1;
    if (persistent_state().stats().dirty && text != "lazy") {
      auto saved = co_await commit();
      if (!saved) throw std::runtime_error(saved.error().to_string());
    }
    c.send("ok");
  }
  // A call that awaits its commit before it replies.
  Task<long> handle_call(const Add& a) {
    mutate().n += a.by;
    co_await commit_or_exit();
    co_return state().n;
  }
  void handle_cast(const Shout& s) { broadcast(s.text); }
};

std::string next_text(ClientConnection& c, std::chrono::milliseconds wait = 10s) {
  auto m = c.next_message(wait);
  return m ? m->data : std::string("<nothing>");
}

// Runs `body` in a process of `rt` and waits for it.
template <class R>
R in_process(Runtime& rt, std::function<Task<R>(Process&)> body) {
  std::promise<R> done;
  rt.spawn([&](Process& self) -> Proc { done.set_value(co_await body(self)); });
  return done.get_future().get();
}

}  // namespace

TEST_GROUP(PersistentSession){};

TEST(PersistentSession, ASnapshotThatCrashesItsSessionRepeatedlyFallsBackAsForServers) {
  poisoned_starts = 0;
  StoredGateway server([](Gateway& g, Persistence&) { g.route<DocSession>("/d"); });
  {
    WsTestClient client;
    auto c = client.connect(server.port(), "/d/doc");
    STRCMP_EQUAL("n=0", next_text(*c).c_str());
    c->send("one");  // revision 1: n = 1
    STRCMP_EQUAL("ok", next_text(*c).c_str());
    c->send("poison");  // revision 2: poison, which crashes every start
    STRCMP_EQUAL("ok", next_text(*c).c_str());
  }
  server.stop();  // the running incarnation stops in order: no crash, no strike
  server.start();
  WsTestClient client;
  auto c = client.connect(server.port(), "/d/doc");
  // The start crashes poison_strikes (3) times, each recording a strike on
  // revision 2; the next start quarantines it and loads revision 1. The
  // connection waits through the restarts and is handed to that one.
  STRCMP_EQUAL("n=1", next_text(*c).c_str());
  LONGS_EQUAL(3, poisoned_starts.load());
  bool quarantined = false;
  for (const auto& key : server.stored_keys("actor/"))
    if (key.ends_with("/q/2")) quarantined = true;
  CHECK_TRUE(quarantined);
}

TEST(PersistentSession, TheStateIsFlushedWhenTheGatewayStops) {
  // Written only on stop: the change survives only if the engine flushes it.
  StoredGateway server([](Gateway& g, Persistence&) {
    g.route("/d", [] {
      return std::make_unique<DocSession>(
          PersistentStateOptions{.durability = Durability::on_stop()});
    });
  });
  {
    WsTestClient client;
    auto c = client.connect(server.port(), "/d/lazy");
    STRCMP_EQUAL("n=0", next_text(*c).c_str());
    c->send("lazy");
    STRCMP_EQUAL("ok", next_text(*c).c_str());
  }
  server.stop();
  server.start();
  WsTestClient client;
  auto c = client.connect(server.port(), "/d/lazy");
  STRCMP_EQUAL("n=1", next_text(*c).c_str());
}

TEST(PersistentSession, TypedCallsAndCastsReachTheSessionByName) {
  StoredGateway server([](Gateway& g, Persistence&) { g.route<DocSession>("/d"); });
  WsTestClient client;
  auto c = client.connect(server.port(), "/d/typed");
  STRCMP_EQUAL("n=0", next_text(*c).c_str());  // the session runs
  long n = in_process<long>(server.rt, [](Process& self) -> Task<long> {
    auto got = co_await call(self, "d/typed", Add{41});
    co_return got ? *got : -1;
  });
  LONGS_EQUAL(41, n);
  CHECK(cast(server.rt, "d/typed", Shout{"hello"}) == SendResult::ok);
  STRCMP_EQUAL("hello", next_text(*c).c_str());
  c->send("one");
  STRCMP_EQUAL("ok", next_text(*c).c_str());
  server.stop();  // the call's commit is durable: a new incarnation sees 42
  server.start();
  WsTestClient again;
  auto d = again.connect(server.port(), "/d/typed");
  STRCMP_EQUAL("n=42", next_text(*d).c_str());
}
