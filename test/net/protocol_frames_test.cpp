// Malformed frames and handshakes get an answer (a close frame, an HTTP
// status), not a silent drop.

#include <CppUTest/TestHarness.h>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xff);
  payload += reason;
  return payload;
}

// Upgrades, sends one close frame with `payload`, returns the close code of
// the server's answer (0 when none came).
int answer_to_close(TestServer& server, std::string_view payload) {
  RawClient raw;
  if (!raw.connect(server.port()) || raw.upgrade("/echo/c") != 101) return -1;
  raw.send_frame(opcode::close, payload);
  const auto frame = raw.read_frame(3s);
  if (!frame || frame->opcode != opcode::close) return 0;
  return frame->close_code();
}

}  // namespace

TEST_GROUP(ProtocolFrames) {
  Watchdog watchdog{20s};
};

TEST(ProtocolFrames, CloseWithOneBytePayloadGets1002) {
  TestServer server(quick_options());
  CHECK_EQUAL(1002, answer_to_close(server, "\x03"));
  const auto closed = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1002, closed->code);
  CHECK_TRUE(server.stop());
}

TEST(ProtocolFrames, CloseReasonThatIsNotUtf8Gets1007) {
  TestServer server(quick_options());
  CHECK_EQUAL(1007, answer_to_close(server, close_payload(1000, "bye\xff")));
  const auto closed = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1007, closed->code);
  CHECK_TRUE(server.stop());
}

TEST(ProtocolFrames, CloseWithACodeNotAllowedOnTheWireGets1002) {
  TestServer server(quick_options());
  CHECK_EQUAL(1002, answer_to_close(server, close_payload(1005, "")));
  CHECK_EQUAL(1002, answer_to_close(server, close_payload(999, "")));
  CHECK_EQUAL(1000, answer_to_close(server, close_payload(1000, "bye")));  // echoed
  CHECK_TRUE(server.stop());
}

TEST(ProtocolFrames, UpgradeWithoutKeyOrWithABadKeyIs400) {
  TestServer server(quick_options());
  const std::string no_key =
      "GET /echo/k HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const auto missing = http_exchange(server.port(), no_key);
  CHECK_EQUAL(400, missing.first);
  STRCMP_CONTAINS("Sec-WebSocket-Key", missing.second.c_str());
  const std::string bad_key =
      "GET /echo/k HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n";
  CHECK_EQUAL(400, http_exchange(server.port(), bad_key).first);
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::open));
  CHECK_TRUE(server.stop());
}

TEST(ProtocolFrames, UpgradeWithAnotherVersionIs426Naming13) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_TRUE(
      raw.send_all("GET /echo/v HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 8\r\n\r\n"));
  const std::string head = raw.read_head(3s);
  CHECK_EQUAL(426, status_of(head));
  STRCMP_EQUAL("13", header_of(head, "sec-websocket-version").c_str());
  CHECK_TRUE(server.stop());
}
