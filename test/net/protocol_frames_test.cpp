// Malformed handshakes get an answer (an HTTP status), not a silent drop.
// Malformed frames and close frames: conformance_*_test.cpp.

#include <CppUTest/TestHarness.h>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(ProtocolFrames) {
  Watchdog watchdog{20s};
};

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

TEST(ProtocolFrames, UpgradeWithoutHostIs400) {
  TestServer server(quick_options());
  const auto status = http_exchange(
      server.port(),
      "GET /echo/h HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK_EQUAL(400, status.first);
  STRCMP_CONTAINS("Host", status.second.c_str());
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

TEST(ProtocolFrames, OversizeRequestsGetAStatusInsteadOfASilentClose) {
  TestServer server(quick_options());
  std::string many = "/echo/q?";
  for (int i = 0; i < 100; ++i) many += "p" + std::to_string(i) + "=1&";
  const auto params = http_exchange(server.port(), upgrade_request(many));
  CHECK_EQUAL(414, params.first);
  STRCMP_CONTAINS("query parameters", params.second.c_str());

  const std::string big_header = "X-Filler: " + std::string(9000, 'f') + "\r\n";
  const auto headers =
      http_exchange(server.port(), upgrade_request("/echo/h", "127.0.0.1", big_header));
  CHECK_EQUAL(431, headers.first);

  std::string lines;
  for (int i = 0; i < 100; ++i) lines += "Cookie: c" + std::to_string(i) + "=1\r\n";
  CHECK_EQUAL(431,
              http_exchange(server.port(), upgrade_request("/echo/l", "127.0.0.1", lines)).first);

  const std::string long_target = "/echo/" + std::string(10000, 'n');
  CHECK_EQUAL(414, http_exchange(server.port(), upgrade_request(long_target)).first);

  const auto nul = http_exchange(server.port(), upgrade_request("/echo/a%00b"));
  CHECK_EQUAL(400, nul.first);
  STRCMP_CONTAINS("%00", nul.second.c_str());
  CHECK_EQUAL(400, http_get(server.port(), "/healthz?x=%00").first);
  CHECK_EQUAL(6u, server.server().counters().heads_refused);

  // Just under the limits is served: 60 parameters and 3 KB of headers.
  std::string fine = "/echo/ok?";
  for (int i = 0; i < 60; ++i) fine += (i ? "&p" : "p") + std::to_string(i) + "=1";
  const std::string filler = "X-Filler: " + std::string(3000, 'f') + "\r\n";
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_TRUE(raw.send_all(upgrade_request(fine, "127.0.0.1", filler)));
  CHECK_EQUAL(101, status_of(raw.read_head(3s)));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  CHECK_EQUAL(60u, open->request.query.size());
  CHECK_TRUE(server.stop());
}

TEST(ProtocolFrames, AHeadSentByteByByteIsStillServed) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  for (char c : upgrade_request("/echo/slow")) CHECK_TRUE(raw.send_all(std::string_view(&c, 1)));
  CHECK_EQUAL(101, status_of(raw.read_head(3s)));
  CHECK_TRUE(raw.send_frame(opcode::text, "hi"));
  const auto echo = raw.read_frame(3s);
  CHECK_TRUE(echo.has_value());
  STRCMP_EQUAL("hi", echo->payload.c_str());
  CHECK_TRUE(server.stop());
}
