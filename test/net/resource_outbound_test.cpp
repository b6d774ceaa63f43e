// Outbound memory is bounded: every message counts against the connection's
// max_outbound_bytes (also those written at once), a message larger than it is
// refused instead of buffered, and the server's total is capped by
// max_total_outbound_bytes.

#include <CppUTest/TestHarness.h>

#include <chrono>
#include <string>
#include <vector>

#include "test/net/harness.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// The gauge has no event of its own: polled, with a generous bound.
bool outbound_drains_to_zero(ws::Server& server) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    if (server.counters().outbound_bytes == 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_GROUP(ResourceOutbound) {
  Watchdog watchdog{30s};
};

// Before: an idle connection wrote a message of any size at once, uncounted
// (a 104 MB history frame passed the 8 MiB limit).
TEST(ResourceOutbound, MessageLargerThanTheLimitIsRefusedAndClosesWith1008) {
  ws::Options options = quick_options();
  options.max_outbound_bytes = 64 * 1024;
  TestServer server(options);
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/big-out");
  CHECK_TRUE(connection->wait_open(3s));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());

  server.server().send(open->id, std::string(200 * 1024, 'h'));
  const auto closed = connection->wait_closed(3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1008, closed->code);
  STRCMP_EQUAL("message over outbound limit", closed->reason.c_str());
  CHECK_FALSE(connection->next_message(0ms).has_value());  // never sent
  CHECK_EQUAL(0u, server.server().counters().bytes_out);
  CHECK_EQUAL(1u, server.server().counters().closed_for_overflow);
  CHECK_TRUE(outbound_drains_to_zero(server.server()));
  CHECK_TRUE(server.stop());
}

TEST(ResourceOutbound, WithDropOldestAnOversizeMessageIsDroppedAndTheConnectionStays) {
  ws::Options options = quick_options();
  options.max_outbound_bytes = 64 * 1024;
  options.overflow = ws::OverflowPolicy::drop_oldest;
  TestServer server(options);
  WsTestClient client;
  auto connection = client.connect(server.port(), "/echo/big-drop");
  CHECK_TRUE(connection->wait_open(3s));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());

  server.server().send(open->id, std::string(200 * 1024, 'h'));
  server.server().send(open->id, "after");
  const auto message = connection->next_message(3s);
  CHECK_TRUE(message.has_value());
  STRCMP_EQUAL("after", message->data.c_str());
  CHECK_EQUAL(1u, server.server().counters().frames_dropped);
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::close));
  CHECK_TRUE(server.stop());
}

// Before: no server-wide cap; each of these readers could pin its own limit
// (ten joiners that never read took a server from 184 MB to 1.2 GB).
TEST(ResourceOutbound, ServerWideCapClosesTheConnectionWhoseMessageWouldPassIt) {
  ws::Options options = quick_options();
  options.max_outbound_bytes = 64 << 20;
  options.max_total_outbound_bytes = 2 << 20;
  TestServer server(options);
  WsTestClient client;
  std::vector<std::shared_ptr<ClientConnection>> readers;
  std::vector<ConnectionId> ids;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(client.connect(server.port(), "/echo/never-reads-" + std::to_string(i)));
    CHECK_TRUE(readers.back()->wait_open(3s));
    const auto open = server.handler().wait(Event::Kind::open, 3s);
    CHECK_TRUE(open.has_value());
    ids.push_back(open->id);
    readers.back()->pause_reading(true);
  }

  // Kernel buffers take some megabytes first; then the cap must trip, long
  // before any connection reaches its own 64 MiB.
  const std::string chunk(128 * 1024, 'm');
  std::optional<Event> closed;
  for (int i = 0; i < 600 && !closed; ++i) {
    server.server().send(ids[i % ids.size()], chunk);
    closed = server.handler().wait(Event::Kind::close, 5ms);
  }
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1008, closed->code);
  STRCMP_EQUAL("server outbound memory full", closed->data.c_str());
  CHECK_TRUE(server.server().counters().outbound_bytes <= (2u << 20) + chunk.size());

  for (auto& reader : readers) reader->pause_reading(false);
  CHECK_TRUE(outbound_drains_to_zero(server.server()));
  CHECK_TRUE(server.stop());
}
