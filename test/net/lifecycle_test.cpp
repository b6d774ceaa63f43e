// Start, serve from several loops and threads, stop: the server leaves every
// loop as it found it.

#include <CppUTest/TestHarness.h>

#include <set>
#include <thread>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Lifecycle) {
  Watchdog watchdog{30s};
};

TEST(Lifecycle, SendAndCloseFromAForeignThreadArriveInOrder) {
  auto handler = std::make_shared<RecordingHandler>();  // no echo
  TestServer server(quick_options(), 1, [&](ws::Server& s) { s.add_route("/push", handler); });
  WsTestClient client;
  auto connection = client.connect(server.port(), "/push/feed");
  CHECK_TRUE(connection->wait_open(3s));
  const auto open = handler->wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());

  const int total = 500;
  std::thread pusher([&] {
    for (int i = 0; i < total; ++i) server.server().send(open->id, std::to_string(i));
    server.server().close(open->id, 4000, "done");
  });
  pusher.join();
  for (int i = 0; i < total; ++i) {
    const auto message = connection->next_message(3s);
    if (!message) FAIL("message missing");
    STRCMP_EQUAL(std::to_string(i).c_str(), message->data.c_str());
  }
  const auto closed = connection->wait_closed(3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(4000, closed->code);
  STRCMP_EQUAL("done", closed->reason.c_str());
  const auto event = handler->wait(Event::Kind::close, 3s);
  CHECK_TRUE(event.has_value());
  CHECK_EQUAL(4000, event->code);
  CHECK_TRUE(event->thread != std::this_thread::get_id());
  // Ignored after the close: the id is dead, nothing breaks.
  CHECK_TRUE(server.server().send(open->id, "late"));
  CHECK_FALSE(server.server().send(ConnectionId{}, "no id"));
  CHECK_TRUE(server.stop());
}

TEST(Lifecycle, GracefulShutdownClosesEveryConnectionWith1001AndReleasesTheLoops) {
  TestServer server(quick_options(), 2);
  WsTestClient client;
  std::vector<std::shared_ptr<ClientConnection>> connections;
  for (int i = 0; i < 6; ++i) {
    connections.push_back(client.connect(server.port(), "/echo/c" + std::to_string(i)));
  }
  for (auto& c : connections) CHECK_TRUE(c->wait_open(3s));
  for (int i = 0; i < 6; ++i) CHECK_TRUE(server.handler().wait(Event::Kind::open, 3s));

  std::atomic<bool> stopped_called{false};
  server.server().shutdown([&] { stopped_called = true; });
  for (auto& c : connections) {
    const auto closed = c->wait_closed(3s);
    CHECK_TRUE(closed.has_value());
    CHECK_EQUAL(1001, closed->code);
  }
  for (int i = 0; i < 6; ++i) {
    const auto event = server.handler().wait(Event::Kind::close, 3s);
    CHECK_TRUE(event.has_value());
    CHECK_EQUAL(1001, event->code);
  }
  server.server().wait_stopped();
  CHECK_TRUE(stopped_called.load());
  CHECK_EQUAL(0u, server.server().counters().connections_open);
  CHECK_TRUE(server.stop());  // uv_loop_close() == 0 on both loops
  // The port is free again.
  RawClient late;
  CHECK_FALSE(late.connect(server.port()));
}

TEST(Lifecycle, ConnectionsSpreadOverTwoLoopsAndStayOnTheirThread) {
  TestServer server(quick_options(), 2);
  WsTestClient client;
  std::vector<std::shared_ptr<ClientConnection>> connections;
  for (int i = 0; i < 10; ++i) {
    auto c = client.connect(server.port(), "/echo/spread");
    CHECK_TRUE(c->wait_open(3s));  // one at a time, so round-robin is exact
    connections.push_back(c);
  }
  std::size_t per_loop[2] = {0, 0};
  std::set<std::thread::id> threads[2];
  for (int i = 0; i < 10; ++i) {
    const auto open = server.handler().wait(Event::Kind::open, 3s);
    CHECK_TRUE(open.has_value());
    CHECK_EQUAL(open->request.loop, open->id.loop());
    ++per_loop[open->id.loop()];
    threads[open->id.loop()].insert(open->thread);
  }
  CHECK_EQUAL(5u, per_loop[0]);
  CHECK_EQUAL(5u, per_loop[1]);
  CHECK_EQUAL(1u, threads[0].size());
  CHECK_EQUAL(1u, threads[1].size());
  CHECK_TRUE(*threads[0].begin() != *threads[1].begin());

  for (int i = 0; i < 10; ++i) connections[i]->send("m" + std::to_string(i));
  for (int i = 0; i < 10; ++i) {
    const auto echoed = connections[i]->next_message(3s);
    CHECK_TRUE(echoed.has_value());
    STRCMP_EQUAL(("m" + std::to_string(i)).c_str(), echoed->data.c_str());
  }
  for (int i = 0; i < 10; ++i) {
    const auto message = server.handler().wait(Event::Kind::message, 3s);
    CHECK_TRUE(message.has_value());
    CHECK_TRUE(threads[message->id.loop()].count(message->thread) == 1);
  }
  CHECK_TRUE(server.stop());
}

TEST(Lifecycle, EmbedsInASingleLoopRunByTheCaller) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto handler = std::make_shared<RecordingHandler>();
  auto server =
      std::make_unique<ws::Server>(std::vector<ws::EventLoop>{{&loop, {}}}, quick_options());
  handler->echo_to = server.get();
  server->add_route("/echo", handler);
  CHECK_FALSE(server->start());  // inline: the loop is not running yet

  std::string echoed;
  std::thread driver([&] {
    RawClient raw;
    if (raw.connect(server->port()) && raw.upgrade("/echo/app") == 101) {
      raw.send_frame(opcode::text, "embedded");
      if (auto frame = raw.read_frame(3s)) echoed = frame->payload;
    }
    server->shutdown();
  });
  uv_run(&loop, UV_RUN_DEFAULT);  // returns once the server released the loop
  driver.join();
  STRCMP_EQUAL("embedded", echoed.c_str());
  CHECK_TRUE(server->stopped());
  server.reset();
  CHECK_EQUAL(0, uv_loop_close(&loop));
}

TEST(Lifecycle, StartReportsAPortInUse) {
  TestServer first(quick_options());
  LoopThread loop;
  {
    ws::Options options = quick_options();
    options.port = first.port();
    ws::Server second({loop.event_loop()}, options);
    second.add_route("/echo", std::make_shared<RecordingHandler>());
    const auto error = second.start();
    CHECK_TRUE(static_cast<bool>(error));
    CHECK_EQUAL(EADDRINUSE, error.value());
    CHECK_TRUE(second.stopped());
  }
  CHECK_EQUAL(0, loop.join());
  CHECK_TRUE(first.stop());
}

TEST(Lifecycle, ServesOnIpv6Loopback) {
  ws::Options options = quick_options();
  options.address = "::1";
  TestServer server(options);
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port(), "::1"));
  CHECK_EQUAL(101, raw.upgrade("/echo/v6"));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  STRCMP_EQUAL("::1", open->request.peer.c_str());
  CHECK_TRUE(server.stop());
}

TEST(Lifecycle, HandlerExceptionClosesThatConnectionWith1011) {
  struct Throwing : RecordingHandler {
    void on_message(ConnectionId, std::string_view, MessageKind) override {
      throw std::runtime_error("boom");
    }
  };
  auto handler = std::make_shared<Throwing>();
  TestServer server(quick_options(), 1, [&](ws::Server& s) { s.add_route("/t", handler); });
  WsTestClient client;
  auto connection = client.connect(server.port(), "/t/x");
  CHECK_TRUE(connection->wait_open(3s));
  connection->send("explode");
  const auto closed = connection->wait_closed(3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1011, closed->code);
  CHECK_TRUE(server.stop());
}
