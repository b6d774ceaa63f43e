// wss:// served by libwebsockets' own TLS (ws::Options::tls_cert_file):
// certificates this test makes, a client that verifies them, the refusals
// (plain HTTP, old protocol versions, silent and stalled handshakes) and the
// reload of a changed certificate without a restart.

#include <CppUTest/TestHarness.h>

#include <chrono>
#include <functional>
#include <thread>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/tls_support.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Polls `done` until it holds or `timeout` passes: for counters, which have no
// event to wait on.
bool eventually(const std::function<bool()>& done, milliseconds timeout = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

struct TlsFiles {
  TempDir dir{"tls"};
  TestCa ca;
  std::string ca_file = dir.path() + "/ca.pem";
  std::string cert_file = dir.path() + "/cert.pem";
  std::string key_file = dir.path() + "/key.pem";

  explicit TlsFiles(long serial = 1) {
    dir.write("ca.pem", ca.cert_pem());
    install(ca.issue(serial));
  }
  void install(const PemPair& pair) {
    replace_file(cert_file, pair.cert);
    replace_file(key_file, pair.key);
  }
  ws::Options options() const {
    ws::Options options = quick_options();
    options.tls_cert_file = cert_file;
    options.tls_key_file = key_file;
    options.tls_reload_interval = 20ms;
    return options;
  }
  TlsClientOptions client() const {
    TlsClientOptions options;
    options.ca_file = ca_file;
    return options;
  }
};

}  // namespace

TEST_GROUP(Tls){};

TEST(Tls, EchoesOverAVerifiedConnectionWithTls13) {
  TlsFiles files;
  TestServer server(files.options());
  TlsClient client;
  CHECK_TRUE_TEXT(client.connect(server.port(), files.client()), client.error().c_str());
  CHECK_EQUAL(TLS1_3_VERSION, client.version());
  CHECK_EQUAL(1, client.peer_serial());
  CHECK_EQUAL(101, client.upgrade("/echo/a"));
  CHECK_TRUE(client.send_text("over tls"));
  const auto echoed = client.read_message();
  CHECK_TRUE(echoed.has_value());
  STRCMP_EQUAL("over tls", echoed->c_str());
  CHECK_TRUE(server.stop());
}

TEST(Tls, Tls12IsStillServed) {
  TlsFiles files;
  TestServer server(files.options());
  TlsClientOptions options = files.client();
  options.max_version = TLS1_2_VERSION;
  TlsClient client;
  CHECK_TRUE_TEXT(client.connect(server.port(), options), client.error().c_str());
  CHECK_EQUAL(TLS1_2_VERSION, client.version());
  CHECK_TRUE(server.stop());
}

TEST(Tls, TheClientRefusesAnUntrustedIssuerOrAnotherName) {
  TlsFiles files;
  TestServer server(files.options());
  // Verification is on: a CA the server's certificate does not come from...
  TempDir other_dir("tls-other");
  TestCa other("Another CA");
  other_dir.write("ca.pem", other.cert_pem());
  TlsClientOptions untrusted = files.client();
  untrusted.ca_file = other_dir.path() + "/ca.pem";
  TlsClient first;
  CHECK_FALSE(first.connect(server.port(), untrusted));
  // ...or a name it does not carry fails the handshake.
  TlsClientOptions wrong_name = files.client();
  wrong_name.host = "example.com";
  TlsClient second;
  CHECK_FALSE(second.connect(server.port(), wrong_name));
  // And the right CA and name pass, on the same server.
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x").has_value());
  CHECK_TRUE(server.stop());
}

TEST(Tls, PlainHttpOnTheTlsPortIsAnswered400AndClosed) {
  TlsFiles files;
  TestServer server(files.options());
  RawClient plain;
  CHECK_TRUE(plain.connect(server.port()));
  CHECK_TRUE(plain.send_all(upgrade_request("/echo/a")));
  const std::string head = plain.read_head(3000ms);
  CHECK_EQUAL(400, status_of(head));
  CHECK_TRUE(plain.read_body(50, 3000ms).find("TLS only") != std::string::npos);
  CHECK_TRUE(plain.wait_eof(3000ms));
  CHECK_EQUAL(0u, server.handler().count(Event::Kind::open));
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x").has_value());
  CHECK_TRUE(server.stop());
}

TEST(Tls, Tls11AndOlderAreRefused) {
  TlsFiles files;
  TestServer server(files.options());
  TlsClientOptions old = files.client();
  old.min_version = TLS1_VERSION;
  old.max_version = TLS1_1_VERSION;
  TlsClient client;
  CHECK_FALSE(client.connect(server.port(), old));
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x").has_value());
  CHECK_TRUE(server.stop());
}

TEST(Tls, SilentAndStalledHandshakesTimeOut) {
  TlsFiles files;
  ws::Options options = files.options();
  options.handshake_timeout = 1s;
  TestServer server(options);
  const auto started = std::chrono::steady_clock::now();
  // One sends nothing (no ClientHello); one sends the first bytes of a
  // handshake record and stops; one finishes TLS and then sends its request
  // a line at a time, never the end.
  RawClient silent, stalled;
  CHECK_TRUE(silent.connect(server.port()));
  CHECK_TRUE(stalled.connect(server.port()));
  CHECK_TRUE(stalled.send_all(std::string("\x16\x03\x01\x02\x00", 5)));
  TlsClient slow_head;
  CHECK_TRUE_TEXT(slow_head.connect(server.port(), files.client()), slow_head.error().c_str());
  CHECK_TRUE(slow_head.send_raw("GET /echo/slow HTTP/1.1\r\n"));
  CHECK_TRUE(silent.wait_eof(4s));
  CHECK_TRUE(stalled.wait_eof(4s));
  CHECK_TRUE(slow_head.send_raw("Host: localhost\r\n"));
  CHECK_TRUE(slow_head.wait_eof());
  // Dropped by the timeout, not refused on the spot.
  CHECK_TRUE(std::chrono::steady_clock::now() - started >= 900ms);
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x").has_value());
  CHECK_TRUE(server.stop());
}

TEST(Tls, AChangedCertificateServesNewConnectionsAndOpenOnesKeepRunning) {
  TlsFiles files(1);
  TestServer server(files.options());
  TlsClient open;
  CHECK_TRUE_TEXT(open.connect(server.port(), files.client()), open.error().c_str());
  CHECK_EQUAL(1, open.peer_serial());
  CHECK_EQUAL(101, open.upgrade("/echo/a"));

  files.install(files.ca.issue(2));
  CHECK_TRUE(eventually([&] { return server.server().counters().tls_reloads == 1; }));

  long serial = 0;
  const auto echoed = tls_echo(server.port(), files.client(), "/echo/b", "new", &serial);
  CHECK_TRUE(echoed.has_value());
  CHECK_EQUAL(2, serial);
  CHECK_TRUE(open.send_text("still here"));
  const auto old_echo = open.read_message();
  CHECK_TRUE(old_echo.has_value());
  STRCMP_EQUAL("still here", old_echo->c_str());
  CHECK_EQUAL(0u, server.server().counters().tls_reload_failures);
  CHECK_TRUE(server.stop());
}

TEST(Tls, ABrokenReplacementKeepsTheOldCertificate) {
  TlsFiles files(1);
  TestServer server(files.options());
  // A new certificate without its key: the old key does not match it.
  replace_file(files.cert_file, files.ca.issue(3).cert);
  CHECK_TRUE(eventually([&] { return server.server().counters().tls_reload_failures == 1; }));
  long serial = 0;
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x", &serial).has_value());
  CHECK_EQUAL(1, serial);
  // Then garbage in both: still the first one.
  replace_file(files.cert_file, "not a certificate\n");
  replace_file(files.key_file, "not a key\n");
  CHECK_TRUE(eventually([&] { return server.server().counters().tls_reload_failures == 2; }));
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x", &serial).has_value());
  CHECK_EQUAL(1, serial);
  // A good pair again is taken.
  files.install(files.ca.issue(4));
  CHECK_TRUE(eventually([&] { return server.server().counters().tls_reloads == 1; }));
  CHECK_TRUE(tls_echo(server.port(), files.client(), "/echo/a", "x", &serial).has_value());
  CHECK_EQUAL(4, serial);
  CHECK_TRUE(server.stop());
}

TEST(Tls, StartFailsOnAnUnusableCertificate) {
  TlsFiles files(1);
  replace_file(files.key_file, files.ca.issue(5).key);  // not the certificate's key
  LoopThread loop;
  {
    ws::Server server({loop.event_loop()}, files.options());
    CHECK_TRUE(static_cast<bool>(server.start()));
    server.wait_stopped();
  }
  CHECK_EQUAL(0, loop.join());
}

TEST(Tls, ServesSeveralLoops) {
  TlsFiles files;
  TestServer server(files.options(), 3);
  for (int i = 0; i < 6; ++i) {
    const auto echoed =
        tls_echo(server.port(), files.client(), "/echo/n" + std::to_string(i), "hi");
    CHECK_TRUE(echoed.has_value());
  }
  CHECK_TRUE(server.stop());
}

TEST(Tls, ASessionResumesOnEveryLoop) {
  TlsFiles files;
  TestServer server(files.options(), 3);
  TlsClient first;
  CHECK_TRUE_TEXT(first.connect(server.port(), files.client()), first.error().c_str());
  CHECK_EQUAL(101, first.upgrade("/echo/r"));
  CHECK_TRUE(first.send_text("x"));
  CHECK_TRUE(first.read_message().has_value());  // the ticket came before it
  SSL_SESSION* session = first.take_session();
  CHECK_TRUE(session != nullptr);
  // Connections are dealt to the loops in turn: these land on all three.
  for (int i = 0; i < 3; ++i) {
    TlsClientOptions options = files.client();
    options.session = session;
    TlsClient again;
    CHECK_TRUE_TEXT(again.connect(server.port(), options), again.error().c_str());
    CHECK_TRUE(again.resumed());
    CHECK_EQUAL(101, again.upgrade("/echo/r" + std::to_string(i)));
  }
  SSL_SESSION_free(session);
  CHECK_TRUE(server.stop());
}
