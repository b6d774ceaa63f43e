// The example apps when their store fails a write: the request being handled
// is answered with an error frame naming its id (never silence), nothing
// changes, the session keeps serving, and the retry with the same id is
// applied once the store is back.

#include <CppUTest/TestHarness.h>

#include <atomic>
#include <string>

#include "examples/server/chat.hpp"
#include "examples/server/counter.hpp"
#include "examples/server/game.hpp"
#include "net/gateway/gateway.hpp"
#include "persist/awaitable_store.hpp"
#include "persist/persistence.hpp"
#include "test/net/harness.hpp"
#include "test/net/temp_file_store.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// A store in front of another whose writes can be made to fail (as
// "unavailable", on a later loop turn like any store's answer); reads pass.
class BreakableStore final : public Store {
 public:
  explicit BreakableStore(Store& inner) : inner_(inner) {}
  std::atomic<bool> broken{false};

  void get(std::string key, StoreCallback<std::optional<Entry>> done) override {
    inner_.get(std::move(key), std::move(done));
  }
  void put(std::string key, std::string value, StoreCallback<Revision> done) override {
    if (broken) return refuse(std::move(done));
    inner_.put(std::move(key), std::move(value), std::move(done));
  }
  void del(std::string key, StoreCallback<bool> done) override {
    if (broken) return refuse(std::move(done));
    inner_.del(std::move(key), std::move(done));
  }
  void list(std::string prefix, ListOptions options, StoreCallback<Page> done) override {
    inner_.list(std::move(prefix), std::move(options), std::move(done));
  }
  void batch(std::vector<WriteOp> ops, StoreCallback<void> done) override {
    if (broken) return refuse(std::move(done));
    inner_.batch(std::move(ops), std::move(done));
  }
  void compare_and_put(std::string key, std::string value, Revision revision,
                       StoreCallback<void> done) override {
    if (broken) return refuse(std::move(done));
    inner_.compare_and_put(std::move(key), std::move(value), revision, std::move(done));
  }
  void compare_and_put_many(std::vector<CasWrite> writes,
                            StoreCallback<std::vector<CasOutcome>> done) override {
    if (broken) return refuse(std::move(done));
    inner_.compare_and_put_many(std::move(writes), std::move(done));
  }
  void close(std::function<void()> done) override { done(); }  // the inner store's owner closes it

 private:
  template <class T>
  void refuse(StoreCallback<T> done) {
    inner_.get("breakable", [done = std::move(done)](auto) {
      done(unexpected(StoreError{StoreErrc::unavailable, "the test broke the store"}));
    });
  }
  Store& inner_;
};

struct BreakableServer {
  Runtime rt{{.schedulers = 2}};
  TempFileStore files{rt};
  BreakableStore store{files.client().store()};
  AwaitableStore client{rt, 0, store};
  Persistence actors{client};
  std::unique_ptr<Gateway> gateway;

  BreakableServer() {
    gateway = std::make_unique<Gateway>(
        rt, GatewayOptions{.server = quick_options(), .persistence = &actors});
    gateway->route("/chat", [] { return std::make_unique<examples::ChatRoom>(false); });
    gateway->route("/counter", [] { return std::make_unique<examples::Counter>(); });
    gateway->route("/game", [] { return std::make_unique<examples::TicTacToe>(); });
    CHECK_FALSE(gateway->start());
  }
  ~BreakableServer() {
    store.broken = false;
    gateway->stop();
    gateway.reset();
    rt.run_for(10s);
    files.close();
    rt.shutdown();
  }
  std::uint16_t port() const { return gateway->port(); }
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

examples::Json next_json(ClientConnection& c) {
  return examples::parse_object(next(c)).value_or(examples::Json::object());
}

std::string text_at(const examples::Json& j, const std::string& key) {
  return examples::string_at(j, key).value_or("<no " + key + ">");
}

std::shared_ptr<ClientConnection> open(WsTestClient& client, std::uint16_t port,
                                       const std::string& path) {
  auto c = client.connect(port, path);
  CHECK_TRUE(c->wait_open(3s));
  return c;
}

}  // namespace

TEST_GROUP(ExamplesOutage) {
  Watchdog watchdog{60s};
};

TEST(ExamplesOutage, ACounterIncrementThatCannotBeSavedIsAnsweredAndAppliedOnceOnRetry) {
  BreakableServer server;
  WsTestClient client;
  auto a = open(client, server.port(), "/counter/down");
  auto b = open(client, server.port(), "/counter/down");
  next(*a);
  next(*b);
  server.store.broken = true;
  a->send(R"({"type":"incr","by":1,"id":"f"})");
  auto error = next_json(*a);
  STRCMP_EQUAL("error", text_at(error, "type").c_str());
  STRCMP_EQUAL("f", text_at(error, "id").c_str());
  STRCMP_CONTAINS("not saved", text_at(error, "error").c_str());
  server.store.broken = false;
  a->send(R"({"type":"incr","by":1,"id":"f"})");
  // Applied once: b's first news since the outage is the retry's value.
  STRCMP_EQUAL(R"({"type":"value","value":1})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"f"})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"value","value":1})", next(*b).c_str());
}

TEST(ExamplesOutage, AChatMessageThatCannotBeSavedIsAnsweredAndNotBroadcast) {
  BreakableServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/chat/down?name=ann");
  next(*ann);
  auto bob = open(client, server.port(), "/chat/down?name=bob");
  next(*bob);
  next(*ann);  // bob joined
  server.store.broken = true;
  ann->send(R"({"type":"say","text":"lost?","id":"s1"})");
  auto error = next_json(*ann);
  STRCMP_EQUAL("error", text_at(error, "type").c_str());
  STRCMP_EQUAL("s1", text_at(error, "id").c_str());
  server.store.broken = false;
  ann->send(R"({"type":"say","text":"lost?","id":"s1"})");
  STRCMP_EQUAL("lost?", text_at(next_json(*ann), "text").c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"s1"})", next(*ann).c_str());
  STRCMP_EQUAL("lost?", text_at(next_json(*bob), "text").c_str());
  // The history holds it once.
  auto cy = open(client, server.port(), "/chat/down?name=cy");
  LONGS_EQUAL(1, next_json(*cy)["messages"].size());
}

TEST(ExamplesOutage, AGameMoveThatCannotBeSavedIsAnsweredAndChangesNothing) {
  BreakableServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/game/down?name=ann");
  next(*ann);  // seat
  next(*ann);  // state
  auto bob = open(client, server.port(), "/game/down?name=bob");
  next(*bob);
  next(*bob);
  next(*ann);  // bob took o
  server.store.broken = true;
  ann->send(R"({"type":"move","cell":4,"id":"m1"})");
  auto error = next_json(*ann);
  STRCMP_EQUAL("error", text_at(error, "type").c_str());
  STRCMP_EQUAL("m1", text_at(error, "id").c_str());
  server.store.broken = false;
  ann->send(R"({"type":"move","cell":4,"id":"m1"})");
  // Bob's first news is the move made once.
  STRCMP_EQUAL("....x....", text_at(next_json(*bob), "board").c_str());
  STRCMP_EQUAL("....x....", text_at(next_json(*ann), "board").c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"m1"})", next(*ann).c_str());
}

TEST(ExamplesOutage, AGameSeatThatCannotBeSavedIsRefusedWithAnErrorAndStaysFree) {
  BreakableServer server;
  WsTestClient client;
  server.store.broken = true;
  auto ann = open(client, server.port(), "/game/seatless?name=ann");
  auto error = next_json(*ann);
  STRCMP_EQUAL("error", text_at(error, "type").c_str());
  STRCMP_CONTAINS("could not be saved", text_at(error, "error").c_str());
  auto state = next_json(*ann);
  STRCMP_EQUAL("spectator", text_at(state, "role").c_str());
  CHECK_TRUE(state["players"]["x"].is_null());
  server.store.broken = false;
  // The seat is still free: ann, reconnecting, takes it.
  auto again = open(client, server.port(), "/game/seatless?name=ann");
  STRCMP_EQUAL("seat", text_at(next_json(*again), "type").c_str());
  STRCMP_EQUAL("x", text_at(next_json(*again), "role").c_str());
}
