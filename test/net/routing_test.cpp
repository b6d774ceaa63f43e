// Routing and admission happen before the upgrade: a client that is refused
// gets an HTTP status and never reaches a handler.

#include <CppUTest/TestHarness.h>

#include "net/ws/route_name.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

int upgrade_status(std::uint16_t port, std::string_view path, std::string_view headers = {}) {
  RawClient raw;
  if (!raw.connect(port)) return -1;
  return raw.upgrade(path, headers);
}

}  // namespace

TEST_GROUP(Routing) {
  Watchdog watchdog{20s};
};

TEST(Routing, UnknownPrefixIs404) {
  TestServer server(quick_options());
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  raw.send_all(
      "GET /nope/x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  STRCMP_CONTAINS("HTTP/1.1 404 Not Found\r\n", raw.read_head(3s).c_str());
  CHECK_EQUAL(404, upgrade_status(server.port(), "/nope/x"));
  CHECK_EQUAL(404, upgrade_status(server.port(), "/echo"));
  CHECK_EQUAL(404, upgrade_status(server.port(), "/echoes/x"));
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::open));
  CHECK_EQUAL(4u, server.server().counters().upgrades_refused);
  CHECK_TRUE(server.stop());
}

TEST(Routing, BadNamesAre400) {
  TestServer server(quick_options());
  const char* bad[] = {"/echo/",    "/echo/a%20b",  "/echo/a%2Fb", "/echo/a/b",
                       "/echo/%FF", "/echo/%C0%AF", "/echo/a%25b", "/echo/a%3Fb"};
  for (const char* path : bad) {
    if (upgrade_status(server.port(), path) != 400) FAIL(path);
  }
  const std::string too_long = "/echo/" + std::string(max_route_name_bytes + 1, 'n');
  CHECK_EQUAL(400, upgrade_status(server.port(), too_long));
  const std::string longest = "/echo/" + std::string(max_route_name_bytes, 'n');
  CHECK_EQUAL(101, upgrade_status(server.port(), longest));
  // The 101 goes out just before on_open runs: wait for it, then count.
  CHECK_TRUE(server.handler().wait(Event::Kind::open, 3s).has_value());
  CHECK_EQUAL(1u, server.handler().count(Event::Kind::open));
  CHECK_TRUE(server.stop());
}

TEST(Routing, NameIsPercentDecodedAndRequestCarriesQueryHeadersCookies) {
  ws::Options options = quick_options();
  options.captured_headers = {"x-api-key"};
  TestServer server(options);
  CHECK_EQUAL(101, upgrade_status(server.port(), "/echo/caf%C3%A9:1?token=abc&msg=two%20words",
                                  "Cookie: sid=s1; theme=\"dark\"\r\nX-Api-Key: k-42\r\n"));
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  const HttpRequest& request = open->request;
  STRCMP_EQUAL("caf\xc3\xa9:1", request.name.c_str());
  STRCMP_EQUAL("/echo/caf\xc3\xa9:1", request.path.c_str());
  STRCMP_EQUAL("abc", std::string(request.query_param("token").value_or("")).c_str());
  STRCMP_EQUAL("two words", std::string(request.query_param("msg").value_or("")).c_str());
  STRCMP_EQUAL("s1", std::string(request.cookie("sid").value_or("")).c_str());
  STRCMP_EQUAL("dark", std::string(request.cookie("theme").value_or("")).c_str());
  STRCMP_EQUAL("k-42", std::string(request.header("x-api-key").value_or("")).c_str());
  STRCMP_EQUAL("127.0.0.1", std::string(request.header("host").value_or("")).c_str());
  STRCMP_EQUAL("127.0.0.1", request.peer.c_str());
  CHECK_TRUE(server.stop());
}

TEST(Routing, AuthorizeRejectsWith401Or403BeforeTheUpgrade) {
  auto handler = std::make_shared<RecordingHandler>();
  handler->authorizer = [](const HttpRequest& request) {
    const auto token = request.query_param("token");
    if (!token) return Admission::reject(401, "token needed");
    if (*token != "good" || request.cookie("sid") != "s1") return Admission::reject(403);
    return Admission::admit();
  };
  TestServer server(quick_options(), 1, [&](ws::Server& s) { s.add_route("/private", handler); });
  CHECK_EQUAL(401, upgrade_status(server.port(), "/private/a"));
  CHECK_EQUAL(403, upgrade_status(server.port(), "/private/a?token=bad", "Cookie: sid=s1\r\n"));
  CHECK_EQUAL(403, upgrade_status(server.port(), "/private/a?token=good", "Cookie: sid=s2\r\n"));
  CHECK_EQUAL(0u, handler->count(Event::Kind::open));
  CHECK_EQUAL(101, upgrade_status(server.port(), "/private/a?token=good", "Cookie: sid=s1\r\n"));
  CHECK_TRUE(handler->wait(Event::Kind::open, 3s).has_value());
  CHECK_TRUE(server.stop());
}

TEST(Routing, LongestPrefixWins) {
  auto rooms = std::make_shared<RecordingHandler>();
  auto vip = std::make_shared<RecordingHandler>();
  TestServer server(quick_options(), 1, [&](ws::Server& s) {
    s.add_route("/rooms", rooms);
    s.add_route("/rooms/vip", vip);
  });
  CHECK_EQUAL(101, upgrade_status(server.port(), "/rooms/vip/gold"));
  CHECK_EQUAL(101, upgrade_status(server.port(), "/rooms/vip"));
  const auto to_vip = vip->wait(Event::Kind::open, 3s);
  const auto to_rooms = rooms->wait(Event::Kind::open, 3s);
  CHECK_TRUE(to_vip && to_rooms);
  STRCMP_EQUAL("gold", to_vip->request.name.c_str());
  STRCMP_EQUAL("vip", to_rooms->request.name.c_str());
  CHECK_TRUE(server.stop());
}

TEST(Routing, MalformedPrefixesAreRefusedAtRegistration) {
  LoopThread loop;
  {
    ws::Server server({loop.event_loop()});
    auto handler = std::make_shared<RecordingHandler>();
    CHECK_THROWS(std::invalid_argument, server.add_route("rooms", handler));
    CHECK_THROWS(std::invalid_argument, server.add_route("/rooms/", handler));
    CHECK_THROWS(std::invalid_argument, server.add_route("/", handler));
    server.add_route("/rooms", handler);
    CHECK_THROWS(std::invalid_argument, server.add_route("/rooms", handler));
  }
  CHECK_EQUAL(0, loop.join());
}

TEST(Routing, OriginOutsideTheAllowlistIs403) {
  ws::Options options = quick_options();
  options.allowed_origins = {"https://app.example"};
  TestServer server(options);
  CHECK_EQUAL(403, upgrade_status(server.port(), "/echo/o", "Origin: https://evil.example\r\n"));
  CHECK_EQUAL(101, upgrade_status(server.port(), "/echo/o", "Origin: https://app.example\r\n"));
  CHECK_EQUAL(101, upgrade_status(server.port(), "/echo/o"));  // not a browser
  CHECK_TRUE(server.handler().wait(Event::Kind::open, 3s).has_value());
  CHECK_TRUE(server.handler().wait(Event::Kind::open, 3s).has_value());
  CHECK_EQUAL(2u, server.handler().count(Event::Kind::open));
  CHECK_TRUE(server.stop());
}

TEST(Routing, ConnectionLimitsPerNameAndTotalAre503) {
  ws::Options options = quick_options();
  options.max_connections = 3;
  auto handler = std::make_shared<RecordingHandler>();
  TestServer server(options, 1, [&](ws::Server& s) {
    s.add_route("/r", handler, ws::RouteLimits{.max_connections_per_name = 2});
  });
  std::vector<RawClient> clients(4);
  CHECK_TRUE(clients[0].connect(server.port()));
  CHECK_EQUAL(101, clients[0].upgrade("/r/a"));
  CHECK_TRUE(clients[1].connect(server.port()));
  CHECK_EQUAL(101, clients[1].upgrade("/r/a"));
  CHECK_EQUAL(503, upgrade_status(server.port(), "/r/a"));  // name full
  CHECK_TRUE(clients[2].connect(server.port()));
  CHECK_EQUAL(101, clients[2].upgrade("/r/b"));
  CHECK_EQUAL(503, upgrade_status(server.port(), "/r/c"));  // server full

  // A slot frees when its connection is gone.
  clients[0] = RawClient();
  CHECK_TRUE(handler->wait(Event::Kind::close, 3s).has_value());
  CHECK_TRUE(clients[3].connect(server.port()));
  int status = 0;
  // The slot is released at WSI_DESTROY, a loop iteration after on_close.
  for (int attempt = 0; attempt < 50 && status != 101; ++attempt) {
    RawClient retry;
    CHECK_TRUE(retry.connect(server.port()));
    status = retry.upgrade("/r/a");
    if (status == 101) clients[3] = std::move(retry);
  }
  CHECK_EQUAL(101, status);
  CHECK_TRUE(server.stop());
}

TEST(Routing, PlainGetOnARouteIs426AndUnknownPathIs404) {
  TestServer server(quick_options());
  CHECK_EQUAL(426, http_get(server.port(), "/echo/x").first);
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  raw.send_all("GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  STRCMP_CONTAINS("HTTP/1.1 404", raw.read_head(3s).c_str());
  CHECK_EQUAL(404, http_get(server.port(), "/nothing-here").first);
  CHECK_TRUE(server.stop());
}
