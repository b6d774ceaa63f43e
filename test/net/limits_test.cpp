// Each limit closes only the connection that broke it, with the code RFC 6455
// gives for it, and leaves the rest of the server serving.

#include <CppUTest/TestHarness.h>

#include <chrono>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// The echo route still works on a fresh connection.
bool server_still_echoes(std::uint16_t port) {
  RawClient raw;
  if (!raw.connect(port) || raw.upgrade("/echo/alive") != 101) return false;
  raw.send_frame(opcode::text, "still here");
  const auto frame = raw.read_frame(3s);
  return frame && frame->payload == "still here";
}

}  // namespace

TEST_GROUP(Limits) {
  Watchdog watchdog{30s};
};

TEST(Limits, OversizeFrameClosesWith1009AtItsFirstChunk) {
  ws::Options options = quick_options();
  options.max_message_bytes = 1024;
  TestServer server(options);
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/big");
  CHECK_TRUE(connection->wait_open(3s));
  connection->send(std::string(1024, 'a'));  // exactly the limit: fine
  CHECK_TRUE(connection->next_message(3s).has_value());
  connection->send(std::string(100000, 'b'));
  const auto closed = connection->wait_closed(3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1009, closed->code);
  const auto event = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(event.has_value());
  CHECK_EQUAL(1009, event->code);
  // Refused before buffering: only the first message's bytes were counted.
  CHECK_EQUAL(1024u, server.server().counters().bytes_in);
  CHECK_EQUAL(1u, server.server().counters().closed_for_size);
  CHECK_TRUE(server_still_echoes(server.port()));
  CHECK_TRUE(server.stop());
}

TEST(Limits, OversizeFragmentedMessageClosesWith1009) {
  ws::Options options = quick_options();
  options.max_message_bytes = 1000;
  TestServer server(options);
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/frag"));
  CHECK_TRUE(raw.send_frame(opcode::binary, std::string(400, 'x'), false));
  CHECK_TRUE(raw.send_frame(opcode::continuation, std::string(400, 'x'), false));
  CHECK_TRUE(raw.send_frame(opcode::continuation, std::string(400, 'x'), true));
  const auto frame = raw.read_frame(3s);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(opcode::close, frame->opcode);
  CHECK_EQUAL(1009, frame->close_code());
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::message));
  CHECK_TRUE(server.stop());
}

TEST(Limits, InvalidUtf8TextClosesWith1007) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/utf"));
  CHECK_TRUE(raw.send_frame(opcode::text, "ok \xff\xfe bad"));
  const auto frame = raw.read_frame(3s);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(opcode::close, frame->opcode);
  CHECK_EQUAL(1007, frame->close_code());
  // lws reports the close once the peer answers it, as a client should.
  CHECK_TRUE(raw.send_frame(opcode::close, frame->payload.substr(0, 2)));
  const auto event = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(event.has_value());
  CHECK_EQUAL(1007, event->code);
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::message));
  CHECK_TRUE(server_still_echoes(server.port()));
  CHECK_TRUE(server.stop());
}

TEST(Limits, UnexpectedContinuationIsAProtocolErrorForThatConnectionOnly) {
  TestServer server(quick_options());
  RawClient bystander;
  CHECK_TRUE(bystander.connect(server.port()));
  CHECK_EQUAL(101, bystander.upgrade("/echo/bystander"));

  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/cont"));
  CHECK_TRUE(raw.send_frame(opcode::continuation, "nothing to continue"));
  const auto frame = raw.read_frame(3s);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(opcode::close, frame->opcode);
  CHECK_EQUAL(1002, frame->close_code());

  CHECK_TRUE(bystander.send_frame(opcode::text, "unaffected"));
  const auto echoed = bystander.read_frame(3s);
  CHECK_TRUE(echoed.has_value());
  STRCMP_EQUAL("unaffected", echoed->payload.c_str());
  CHECK_TRUE(server.stop());
}

TEST(Limits, ReservedBitsWithoutAnExtensionAreAProtocolError) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/rsv"));
  CHECK_TRUE(raw.send_frame(opcode::text, "compressed?", true, 0x40));
  const auto frame = raw.read_frame(3s);
  CHECK_TRUE(frame.has_value());
  CHECK_EQUAL(opcode::close, frame->opcode);
  CHECK_EQUAL(1002, frame->close_code());
  CHECK_TRUE(server_still_echoes(server.port()));
  CHECK_TRUE(server.stop());
}

TEST(Limits, SlowReaderIsClosedWith1008AndItsQueueStaysBounded) {
  ws::Options options = quick_options();
  options.max_outbound_bytes = 256 * 1024;
  TestServer server(options);
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/slow");
  CHECK_TRUE(connection->wait_open(3s));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  connection->pause_reading(true);

  // Push until the server gives up on this reader; the kernel buffers absorb
  // some megabytes first, then the queue limit must trip.
  const std::string chunk(64 * 1024, 'z');
  std::optional<Event> closed;
  for (int i = 0; i < 2000 && !closed; ++i) {
    server.server().send(open->id, chunk);
    closed = server.handler().wait(Event::Kind::close, 5ms, open->id);
  }
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1008, closed->code);
  STRCMP_EQUAL("outbound queue full", closed->data.c_str());
  const auto counters = server.server().counters();
  CHECK_EQUAL(1u, counters.closed_for_overflow);
  // Everything handed to the socket fits in the kernel buffers and lws's one
  // partial frame: well below what was pushed.
  CHECK_TRUE(counters.bytes_out < 64u * 1024 * 1024);

  connection->pause_reading(false);
  CHECK_TRUE(connection->wait_closed(5s).has_value());
  CHECK_TRUE(server_still_echoes(server.port()));
  CHECK_TRUE(server.stop());
}

TEST(Limits, DropOldestKeepsTheNewestMessagesAndTheConnection) {
  ws::Options options = quick_options();
  options.max_outbound_bytes = 64 * 1024;
  options.overflow = ws::OverflowPolicy::drop_oldest;
  TestServer server(options);
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/lossy");
  CHECK_TRUE(connection->wait_open(3s));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  connection->pause_reading(true);

  const int total = 3000;
  for (int i = 0; i < total; ++i) {
    server.server().send(open->id, std::to_string(i) + ":" + std::string(8 * 1024, 'd'));
  }
  // A marker sent after all of them: once it arrives, every send was applied.
  server.server().send(open->id, "end");
  connection->pause_reading(false);

  int received = 0, last = -1;
  bool ordered = true;
  for (;;) {
    const auto message = connection->next_message(5s);
    CHECK_TRUE(message.has_value());
    if (message->data == "end") break;
    const int n = std::stoi(message->data);
    ordered = ordered && n > last;
    last = n;
    ++received;
  }
  CHECK_TRUE(ordered);
  CHECK_EQUAL(total - 1, last);
  CHECK_TRUE(received < total);
  CHECK_EQUAL(static_cast<std::uint64_t>(total - received),
              server.server().counters().frames_dropped);
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::close));
  CHECK_TRUE(server.stop());
}

TEST(Limits, SilentAndSlowHandshakesTimeOut) {
  ws::Options options = quick_options();
  options.handshake_timeout = 1s;
  TestServer server(options);
  const auto started = std::chrono::steady_clock::now();
  RawClient silent, slow;
  CHECK_TRUE(silent.connect(server.port()));
  CHECK_TRUE(slow.connect(server.port()));
  CHECK_TRUE(slow.send_all("GET /echo/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  CHECK_TRUE(silent.wait_eof(4s));
  CHECK_TRUE(slow.wait_eof(4s));
  // Dropped by the timeout, not refused on the spot.
  CHECK_TRUE(std::chrono::steady_clock::now() - started >= 900ms);
  CHECK_TRUE(server_still_echoes(server.port()));
  CHECK_TRUE(server.stop());
}
