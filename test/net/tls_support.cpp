#include "test/net/tls_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "net/ws/detail/tls_context.hpp"

namespace troupe::test {
namespace {

EVP_PKEY* new_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen: " + detail::openssl_errors());
  return key;
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return text;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return text;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid: " + detail::openssl_errors());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* new_cert(long serial, const std::string& cn, EVP_PKEY* subject_key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, subject_key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

TestCa::TestCa(const std::string& name) {
  key_ = new_key();
  cert_ = new_cert(1, name, key_);
  X509_set_issuer_name(cert_, X509_get_subject_name(cert_));
  add_extension(cert_, cert_, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert_, cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert_, cert_, NID_subject_key_identifier, "hash");
  if (!X509_sign(cert_, key_, EVP_sha256()))
    throw std::runtime_error("sign CA: " + detail::openssl_errors());
  cert_pem_ = pem_of(cert_);
}

TestCa::~TestCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

PemPair TestCa::issue(long serial, const std::string& dns_name) const {
  EVP_PKEY* key = new_key();
  X509* cert = new_cert(serial, dns_name, key);
  X509_set_issuer_name(cert, X509_get_subject_name(cert_));
  add_extension(cert, cert_, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert, cert_, NID_ext_key_usage, "serverAuth");
  add_extension(cert, cert_, NID_authority_key_identifier, "keyid");
  add_extension(cert, cert_, NID_subject_alt_name, ("DNS:" + dns_name + ",IP:127.0.0.1").c_str());
  if (!X509_sign(cert, key_, EVP_sha256()))
    throw std::runtime_error("sign leaf: " + detail::openssl_errors());
  PemPair pair{pem_of(cert), pem_of(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return pair;
}

void replace_file(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + temporary);
}

TlsClient::~TlsClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::connect(std::uint16_t port, const TlsClientOptions& options) {
  host_ = options.host;
  port_ = port;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{};
  tv.tv_sec = options.timeout.count() / 1000;
  tv.tv_usec = (options.timeout.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    error_ = "tcp connect failed";
    return false;
  }
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx_, options.min_version);
  if (options.max_version) SSL_CTX_set_max_proto_version(ctx_, options.max_version);
  // Let an old-version client offer what it may, so that only the server's
  // settings can refuse it.
  if (options.min_version < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_file(ctx_, options.ca_file.c_str()) != 1) {
    error_ = "cannot load CA file: " + detail::openssl_errors();
    return false;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_tlsext_host_name(ssl_, options.host.c_str());
  SSL_set1_host(ssl_, options.host.c_str());
  SSL_set_fd(ssl_, fd_);
  if (options.session) SSL_set_session(ssl_, options.session);
  if (SSL_connect(ssl_) != 1) {
    const long verify = SSL_get_verify_result(ssl_);
    error_ = "handshake failed: " + detail::openssl_errors();
    if (verify != X509_V_OK)
      error_ += std::string(" verify: ") + X509_verify_cert_error_string(verify);
    return false;
  }
  return true;
}

int TlsClient::version() const {
  return ssl_ ? SSL_version(ssl_) : 0;
}

bool TlsClient::resumed() const {
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

SSL_SESSION* TlsClient::take_session() const {
  return ssl_ ? SSL_get1_session(ssl_) : nullptr;
}

long TlsClient::peer_serial() const {
  X509* cert = ssl_ ? SSL_get1_peer_certificate(ssl_) : nullptr;
  if (!cert) return -1;
  const long serial = ASN1_INTEGER_get(X509_get0_serialNumber(cert));
  X509_free(cert);
  return serial;
}

bool TlsClient::fill() {
  char chunk[4096];
  const int n = SSL_read(ssl_, chunk, sizeof(chunk));
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

bool TlsClient::read_exact(std::string& out, std::size_t n) {
  while (buffer_.size() < n) {
    if (!fill()) return false;
  }
  out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return true;
}

int TlsClient::upgrade(const std::string& path) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host_ + ":" +
                              std::to_string(port_) +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
  if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) return 0;
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return 0;
  }
  const std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  const auto space = head.find(' ');
  return space == std::string::npos ? 0 : std::atoi(head.c_str() + space + 1);
}

bool TlsClient::send_text(const std::string& text) {
  std::string frame;
  frame += static_cast<char>(0x81);
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (text.size() < 126) {
    frame += static_cast<char>(0x80 | text.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((text.size() >> 8) & 0xff);
    frame += static_cast<char>(text.size() & 0xff);
  }
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
  return SSL_write(ssl_, frame.data(), static_cast<int>(frame.size())) > 0;
}

bool TlsClient::send_raw(const std::string& bytes) {
  return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
}

bool TlsClient::wait_eof() {
  char chunk[4096];
  for (;;) {
    errno = 0;
    const int n = SSL_read(ssl_, chunk, sizeof(chunk));
    if (n > 0) continue;
    const int error = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;
  }
}

std::optional<std::string> TlsClient::read_message() {
  std::string head;
  if (!read_exact(head, 2)) return std::nullopt;
  std::size_t length = static_cast<unsigned char>(head[1]) & 0x7f;
  std::string extended;
  if (length == 126) {
    if (!read_exact(extended, 2)) return std::nullopt;
    length =
        (static_cast<unsigned char>(extended[0]) << 8) | static_cast<unsigned char>(extended[1]);
  } else if (length == 127) {
    return std::nullopt;  // not needed by these tests
  }
  std::string payload;
  if (!read_exact(payload, length)) return std::nullopt;
  return payload;
}

std::optional<std::string> tls_echo(std::uint16_t port, const TlsClientOptions& options,
                                    const std::string& path, const std::string& text,
                                    long* serial) {
  TlsClient client;
  if (!client.connect(port, options)) {
    std::fprintf(stderr, "tls_echo: %s\n", client.error().c_str());
    return std::nullopt;
  }
  if (serial) *serial = client.peer_serial();
  if (client.upgrade(path) != 101 || !client.send_text(text)) return std::nullopt;
  return client.read_message();
}

}  // namespace troupe::test
