// Messages flow both ways through a route handler, whole and in order.

#include <CppUTest/TestHarness.h>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Echo) {
  Watchdog watchdog{20s};
};

TEST(Echo, TextAndBinaryRoundTripThroughTheHandler) {
  TestServer server(quick_options());
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/room1");
  CHECK_TRUE(connection->wait_open(3s));

  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  STRCMP_EQUAL("room1", open->request.name.c_str());
  STRCMP_EQUAL("/echo", open->request.route.c_str());

  connection->send("hello");
  const std::string binary("\x00\x01\xff\xfe", 4);
  connection->send(binary, MessageKind::binary);
  const std::string big(200000, 'x');  // many lws chunks, reassembled once
  connection->send(big);

  auto first = connection->next_message(3s);
  auto second = connection->next_message(3s);
  auto third = connection->next_message(3s);
  CHECK_TRUE(first && second && third);
  STRCMP_EQUAL("hello", first->data.c_str());
  CHECK_TRUE(first->kind == MessageKind::text);
  CHECK_TRUE(second->data == binary);
  CHECK_TRUE(second->kind == MessageKind::binary);
  CHECK_EQUAL(big.size(), third->data.size());

  const auto counters = server.server().counters();
  CHECK_EQUAL(3u, counters.frames_in);
  CHECK_EQUAL(5u + 4u + big.size(), counters.bytes_in);
  CHECK_EQUAL(1u, counters.connections_open);

  connection->close(1000, "bye");
  const auto closed = server.handler().wait(Event::Kind::close, 3s, open->id);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1000, closed->code);
  STRCMP_EQUAL("bye", closed->data.c_str());
  CHECK_TRUE(server.stop());
}

TEST(Echo, FragmentedMessageIsDeliveredWhole) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/frag"));
  CHECK_TRUE(raw.send_frame(opcode::text, "one ", false));
  CHECK_TRUE(raw.send_frame(opcode::continuation, "two ", false));
  CHECK_TRUE(raw.send_frame(opcode::ping, "p"));  // control frames may interleave
  CHECK_TRUE(raw.send_frame(opcode::continuation, "three", true));

  const auto message = server.handler().wait(Event::Kind::message, 3s);
  CHECK_TRUE(message.has_value());
  STRCMP_EQUAL("one two three", message->data.c_str());
  CHECK_EQUAL(1u, server.handler().count(Event::Kind::message));
  CHECK_TRUE(server.stop());
}

TEST(Echo, EmptyMessageIsAMessage) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/empty"));
  CHECK_TRUE(raw.send_frame(opcode::text, ""));
  const auto echoed = raw.read_frame(3s);
  CHECK_TRUE(echoed.has_value());
  CHECK_EQUAL(opcode::text, echoed->opcode);
  CHECK_EQUAL(0u, echoed->payload.size());
  CHECK_TRUE(server.stop());
}
