// Safe defaults against cross-site WebSocket hijacking (Origin) and DNS
// rebinding (Host), for upgrades, plain HTTP handlers and static files.

#include <CppUTest/TestHarness.h>

#include "net/ws/detail/request_checks.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"

using namespace troupe;
using namespace troupe::test;
using troupe::detail::check_host;
using troupe::detail::check_origin;

namespace {

int upgrade_with(std::uint16_t port, std::string_view host, std::string_view extra = {}) {
  return http_exchange(port, upgrade_request("/echo/o", host, extra)).first;
}

std::pair<int, std::string> get_with(std::uint16_t port, std::string_view path,
                                     std::string_view host, std::string_view extra = {}) {
  return http_exchange(port, "GET " + std::string(path) +
                                 " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" +
                                 std::string(extra) + "Connection: close\r\n\r\n");
}

// The /echo route (recording into `handler`) and a /metrics handler.
std::function<void(ws::Server&)> echo_and_metrics(std::shared_ptr<RecordingHandler> handler) {
  return [handler](ws::Server& s) {
    s.add_route("/echo", handler);
    s.add_http_handler("/metrics", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "secret 1\n"};
    });
  };
}

}  // namespace

TEST_GROUP(ProtocolOrigin) {
  Watchdog watchdog{20s};
};

TEST(ProtocolOrigin, CrossSiteOriginIsRefusedByDefault) {
  auto handler = std::make_shared<RecordingHandler>();
  TestServer server(quick_options(), 1, echo_and_metrics(handler));
  const std::string self = "127.0.0.1:" + std::to_string(server.port());
  CHECK_EQUAL(101, upgrade_with(server.port(), self, "Origin: http://" + self + "\r\n"));
  CHECK_EQUAL(101, upgrade_with(server.port(), self));  // no Origin: not a browser
  const auto evil = http_exchange(
      server.port(), upgrade_request("/echo/o", self, "Origin: https://evil.example\r\n"));
  CHECK_EQUAL(403, evil.first);
  STRCMP_CONTAINS("Origin", evil.second.c_str());
  CHECK_EQUAL(403, upgrade_with(server.port(), self, "Origin: null\r\n"));
  // Same host, another port is another origin.
  CHECK_EQUAL(403, upgrade_with(server.port(), self, "Origin: http://127.0.0.1:1\r\n"));
  // A page of another site cannot read plain HTTP either.
  CHECK_EQUAL(403,
              get_with(server.port(), "/metrics", self, "Origin: https://evil.example\r\n").first);
  CHECK_EQUAL(200, get_with(server.port(), "/metrics", self).first);
  CHECK_EQUAL(2u, handler->count(Event::Kind::open));
  CHECK_EQUAL(4u, server.server().counters().origin_refused);
  CHECK_TRUE(server.stop());
}

TEST(ProtocolOrigin, AllowedOriginsAddOriginsAndStarAllowsAny) {
  ws::Options options = quick_options();
  options.allowed_origins = {"https://app.example", "null"};
  TestServer listed(options);
  CHECK_EQUAL(101, upgrade_with(listed.port(), "127.0.0.1", "Origin: https://app.example\r\n"));
  CHECK_EQUAL(101, upgrade_with(listed.port(), "127.0.0.1", "Origin: null\r\n"));
  CHECK_EQUAL(403, upgrade_with(listed.port(), "127.0.0.1", "Origin: https://evil.example\r\n"));
  CHECK_TRUE(listed.stop());

  options.allowed_origins = {"*"};
  TestServer any(options);
  CHECK_EQUAL(101, upgrade_with(any.port(), "127.0.0.1", "Origin: https://evil.example\r\n"));
  CHECK_TRUE(any.stop());
}

TEST(ProtocolOrigin, RebindingHostIsRefusedOnALoopbackServer) {
  TestServer server(quick_options(), 1, echo_and_metrics(std::make_shared<RecordingHandler>()));
  const std::string port = std::to_string(server.port());
  for (std::string host : {"127.0.0.1", "localhost", "LocalHost", "[::1]"}) {
    if (upgrade_with(server.port(), host + ":" + port) != 101) FAIL(host.c_str());
    if (upgrade_with(server.port(), host) != 101) FAIL(host.c_str());
  }
  const auto rebound =
      http_exchange(server.port(), upgrade_request("/echo/o", "evil.example:" + port));
  CHECK_EQUAL(421, rebound.first);
  STRCMP_CONTAINS("Host", rebound.second.c_str());
  CHECK_EQUAL(421, get_with(server.port(), "/metrics", "evil.example:" + port).first);
  CHECK_EQUAL(421, get_with(server.port(), "/metrics", "127.0.0.1.evil.example").first);
  CHECK_EQUAL(200, get_with(server.port(), "/metrics", "localhost:" + port).first);
  CHECK_EQUAL(3u, server.server().counters().host_refused);
  CHECK_TRUE(server.stop());
}

TEST(ProtocolOrigin, AllowedHostsNameTheServerAndStarAllowsAny) {
  ws::Options options = quick_options();
  options.allowed_hosts = {"app.example", "other.example:8080"};
  TestServer named(options);
  CHECK_EQUAL(101, upgrade_with(named.port(), "app.example:1234"));
  CHECK_EQUAL(101, upgrade_with(named.port(), "other.example:8080"));
  CHECK_EQUAL(421, upgrade_with(named.port(), "other.example:9090"));
  CHECK_EQUAL(421, upgrade_with(named.port(), "localhost"));  // the list replaces the default
  CHECK_TRUE(named.stop());

  options.allowed_hosts = {"*"};
  TestServer any(options);
  CHECK_EQUAL(101, upgrade_with(any.port(), "rebound.example"));
  CHECK_TRUE(any.stop());
}

TEST(ProtocolOrigin, OnANonLoopbackAddressAnyHostIsServedByDefault) {
  ws::Options options;
  options.address = "0.0.0.0";  // not bound: the rule alone
  CHECK_FALSE(check_host(options, std::string_view("anything.example")));
  options.address = "::1";
  CHECK_TRUE(check_host(options, std::string_view("anything.example")));
  options.address = "127.0.0.2";
  CHECK_TRUE(check_host(options, std::string_view("anything.example")));
  CHECK_FALSE(check_host(options, std::nullopt));  // no Host: not a browser
  CHECK_EQUAL(400, check_host(options, std::string_view("a b")).status);
}

TEST(ProtocolOrigin, SameOriginComparesHostAndPortWithDefaults) {
  ws::Options options;
  using sv = std::string_view;
  CHECK_FALSE(check_origin(options, sv("https://app.example"), sv("app.example")));
  CHECK_FALSE(check_origin(options, sv("https://app.example"), sv("APP.example:443")));
  CHECK_FALSE(check_origin(options, sv("http://app.example"), sv("app.example:80")));
  CHECK_TRUE(check_origin(options, sv("http://app.example"), sv("app.example:443")));
  CHECK_TRUE(check_origin(options, sv("http://app.example.evil"), sv("app.example")));
  CHECK_TRUE(check_origin(options, sv("http://app.example"), std::nullopt));
  CHECK_FALSE(check_origin(options, std::nullopt, sv("app.example")));
}
