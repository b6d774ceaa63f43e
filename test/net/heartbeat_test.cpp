// Heartbeats: lws pings idle connections and drops the ones that stop
// answering; a peer that answers stays.

#include <CppUTest/TestHarness.h>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

ws::Options fast_heartbeat() {
  ws::Options options = quick_options();
  options.heartbeat_interval = 1s;
  options.heartbeat_timeout = 2s;
  return options;
}

}  // namespace

TEST_GROUP(Heartbeat) {
  Watchdog watchdog{20s};
};

TEST(Heartbeat, DeadPeerIsPingedThenDropped) {
  TestServer server(fast_heartbeat());
  RawClient dead;
  CHECK_TRUE(dead.connect(server.port()));
  CHECK_EQUAL(101, dead.upgrade("/echo/dead"));
  const auto ping = dead.read_frame(3s);
  CHECK_TRUE(ping.has_value());
  CHECK_EQUAL(opcode::ping, ping->opcode);
  // Never answer: the server must hang up on its own.
  CHECK_TRUE(dead.wait_eof(4s));
  const auto closed = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1006, closed->code);
  CHECK_TRUE(server.stop());
}

TEST(Heartbeat, PeerThatAnswersPingsStaysOpen) {
  TestServer server(fast_heartbeat());
  RawClient alive;
  CHECK_TRUE(alive.connect(server.port()));
  CHECK_EQUAL(101, alive.upgrade("/echo/alive"));
  // Three pings span more than the 2 s hang-up time.
  for (int pings = 0; pings < 3; ++pings) {
    const auto frame = alive.read_frame(3s);
    CHECK_TRUE(frame.has_value());
    CHECK_EQUAL(opcode::ping, frame->opcode);
    CHECK_TRUE(alive.send_frame(opcode::pong, frame->payload));
  }
  CHECK_TRUE(alive.send_frame(opcode::text, "still"));
  std::optional<RawFrame> echoed;
  while ((echoed = alive.read_frame(3s)) && echoed->opcode == opcode::ping) {
    alive.send_frame(opcode::pong, echoed->payload);
  }
  CHECK_TRUE(echoed.has_value());
  STRCMP_EQUAL("still", echoed->payload.c_str());
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::close));
  CHECK_TRUE(server.stop());
}
