#pragma once
// Test support for wss://: certificates made with OpenSSL's API (a CA and
// leaves it signs, written as PEM files), and a blocking TLS client that
// verifies the server's certificate and speaks just enough RFC 6455 to echo.
// Every read has a timeout, so a test cannot hang on it.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace troupe::test {

using std::chrono::milliseconds;

// A P-256 key and a certificate, PEM-encoded.
struct PemPair {
  std::string cert;
  std::string key;
};

class TestCa {
 public:
  explicit TestCa(const std::string& name = "Troupe Test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  // A server certificate for `dns_name` and 127.0.0.1, with that serial,
  // signed by this CA, and its new key.
  PemPair issue(long serial, const std::string& dns_name = "localhost") const;

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string cert_pem_;
};

// Replaces `path`'s content at once (a new file renamed over it), as a
// certificate renewal tool does.
void replace_file(const std::string& path, const std::string& content);

struct TlsClientOptions {
  std::string ca_file;               // trusted issuers (PEM)
  std::string host = "localhost";    // SNI and the name checked
  int min_version = TLS1_2_VERSION;  // TLS1_VERSION ... TLS1_3_VERSION
  int max_version = 0;               // 0: the highest
  milliseconds timeout = milliseconds(5000);
  SSL_SESSION* session = nullptr;  // to resume (not owned)
};

class TlsClient {
 public:
  TlsClient() = default;
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // TCP connect and TLS handshake with verification. False with error() set.
  bool connect(std::uint16_t port, const TlsClientOptions& options);
  const std::string& error() const { return error_; }
  // After connect(): the negotiated version (TLS1_3_VERSION, ...) and the
  // serial of the server's certificate.
  int version() const;
  long peer_serial() const;
  bool resumed() const;
  // The session to resume later (a TLS 1.3 ticket arrives after the
  // handshake: read something first). Owned by the caller (SSL_SESSION_free).
  SSL_SESSION* take_session() const;

  // Sends an upgrade for `path`; returns the response status (101: open).
  int upgrade(const std::string& path);
  bool send_text(const std::string& text);
  bool send_raw(const std::string& bytes);
  // True when the server ended the connection (close_notify, EOF or reset),
  // false when nothing came within the timeout.
  bool wait_eof();
  // The next text or binary message's payload (pings are not expected here).
  std::optional<std::string> read_message();

 private:
  bool read_exact(std::string& out, std::size_t n);
  bool fill();

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string buffer_;
  std::string error_;
};

// Connects, upgrades to `path`, sends `text` and returns what came back (or
// nullopt); `serial` gets the certificate's serial when not null.
std::optional<std::string> tls_echo(std::uint16_t port, const TlsClientOptions& options,
                                    const std::string& path, const std::string& text,
                                    long* serial = nullptr);

}  // namespace troupe::test
