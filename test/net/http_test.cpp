// Plain HTTP beside the WebSockets: exact-path handlers and static files.

#include <CppUTest/TestHarness.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

std::pair<int, std::string> get_with_head(std::uint16_t port, const std::string& path,
                                          std::string& head) {
  RawClient raw;
  if (!raw.connect(port)) return {0, {}};
  raw.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  head = raw.read_head(3s);
  const std::string length = header_of(head, "content-length");
  std::string body = length.empty() ? std::string() : raw.read_body(std::stoul(length), 3s);
  return {status_of(head), body};
}

}  // namespace

TEST_GROUP(Http) {
  Watchdog watchdog{20s};
};

TEST(Http, HandlersAnswerByExactPathBesideWebSockets) {
  auto handler = std::make_shared<RecordingHandler>();
  TestServer server(quick_options(), 1, [&](ws::Server& s) {
    s.add_route("/echo", handler);
    s.add_http_handler("/healthz", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "ok\n"};
    });
    s.add_http_handler("/metrics", [](const HttpRequest& request) {
      return HttpResponse{200, "text/plain; version=0.0.4",
                          "q " + std::string(request.query_param("q").value_or("-")) + "\n"};
    });
    s.add_http_handler("/broken",
                       [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("no"); });
    s.add_http_handler("/empty", [](const HttpRequest&) {
      return HttpResponse{204, "text/plain", ""};
    });
  });
  std::string head;
  const auto health = get_with_head(server.port(), "/healthz", head);
  CHECK_EQUAL(200, health.first);
  STRCMP_EQUAL("ok\n", health.second.c_str());
  STRCMP_EQUAL("text/plain", header_of(head, "content-type").c_str());
  const auto metrics = get_with_head(server.port(), "/metrics?q=7", head);
  CHECK_EQUAL(200, metrics.first);
  STRCMP_EQUAL("q 7\n", metrics.second.c_str());
  CHECK_EQUAL(500, http_get(server.port(), "/broken").first);
  CHECK_EQUAL(204, http_get(server.port(), "/empty").first);
  CHECK_EQUAL(404, http_get(server.port(), "/healthz/more").first);
  CHECK_EQUAL(4u, server.server().counters().http_requests);

  // The same port still upgrades.
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  CHECK_EQUAL(101, raw.upgrade("/echo/x"));
  CHECK_TRUE(server.stop());
}

TEST(Http, KeepAliveConnectionServesSeveralRequests) {
  TestServer server(quick_options(), 1, [](ws::Server& s) {
    s.add_http_handler("/n", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "n"};
    });
  });
  RawClient raw;
  CHECK_TRUE(raw.connect(server.port()));
  for (int i = 0; i < 3; ++i) {
    CHECK_TRUE(raw.send_all("GET /n HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const std::string head = raw.read_head(3s);
    CHECK_EQUAL(200, status_of(head));
    STRCMP_EQUAL("n", raw.read_body(1, 3s).c_str());
  }
  CHECK_TRUE(server.stop());
}

TEST(Http, StaticFilesIncludingUnknownSuffixes) {
  TempDir dir("net");
  dir.write("index.html", "<h1>hi</h1>");
  dir.write("app.css", "body{}");
  const std::string blob(300000, '\x07');
  dir.write("data.weird", blob);
  ws::Options options = quick_options();
  options.static_dir = dir.path();
  options.static_mount = "/static";
  TestServer server(options);

  std::string head;
  const auto index = get_with_head(server.port(), "/static/", head);
  CHECK_EQUAL(200, index.first);
  STRCMP_EQUAL("<h1>hi</h1>", index.second.c_str());
  STRCMP_CONTAINS("text/html", header_of(head, "content-type").c_str());
  const auto css = get_with_head(server.port(), "/static/app.css", head);
  CHECK_EQUAL(200, css.first);
  STRCMP_CONTAINS("text/css", header_of(head, "content-type").c_str());
  const auto weird = get_with_head(server.port(), "/static/data.weird", head);
  CHECK_EQUAL(200, weird.first);  // not 415
  STRCMP_CONTAINS("application/octet-stream", header_of(head, "content-type").c_str());
  CHECK_TRUE(weird.second == blob);
  CHECK_EQUAL(404, http_get(server.port(), "/static/missing.txt").first);
  CHECK_TRUE(server.stop());
}

TEST(Http, StaticFilesNeverLeaveTheDirectory) {
  TempDir outside("net");
  outside.write("secret.txt", "secret");
  TempDir dir("net");
  dir.write("index.html", "<h1>hi</h1>");
  dir.write("real.txt", "inside");
  std::filesystem::create_directory(dir.path() + "/sub");
  dir.write("sub/page.txt", "page");
  std::filesystem::create_symlink(outside.path() + "/secret.txt", dir.path() + "/leak.txt");
  std::filesystem::create_directory_symlink(outside.path(), dir.path() + "/out");
  std::filesystem::create_symlink(dir.path() + "/real.txt", dir.path() + "/alias.txt");
  std::filesystem::create_symlink("../real.txt", dir.path() + "/sub/up.txt");
  ws::Options options = quick_options();
  options.static_dir = dir.path();
  TestServer server(options);

  CHECK_EQUAL(404, http_get(server.port(), "/static/leak.txt").first);
  CHECK_EQUAL(404, http_get(server.port(), "/static/out/secret.txt").first);
  CHECK_EQUAL(
      404, http_get(server.port(), "/static/../" +
                                       std::filesystem::path(outside.path()).filename().string() +
                                       "/secret.txt")
               .first);
  CHECK_EQUAL(404, http_get(server.port(), "/static/%2e%2e/%2e%2e/etc/passwd").first);
  CHECK_EQUAL(404, http_get(server.port(), "/static/sub").first);  // a directory, not a file
  // Links that stay inside are served.
  const auto alias = http_get(server.port(), "/static/alias.txt");
  CHECK_EQUAL(200, alias.first);
  STRCMP_EQUAL("inside", alias.second.c_str());
  const auto up = http_get(server.port(), "/static/sub/up.txt");
  CHECK_EQUAL(200, up.first);
  STRCMP_EQUAL("inside", up.second.c_str());
  CHECK_EQUAL(200, http_get(server.port(), "/static/sub/page.txt").first);
  CHECK_EQUAL(301, http_get(server.port(), "/static").first);
  CHECK_TRUE(server.stop());
}
