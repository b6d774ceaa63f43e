#pragma once
// TLS for a ws::Server (ws::Options::tls_cert_file / tls_key_file): the
// certificate and key read from their files, the holder every loop's
// handshakes take them from, and the settings of each loop's SSL_CTX.
//
// libwebsockets creates one SSL_CTX per loop (per lws context) and gives it to
// us once (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS); lws itself
// never reads the files. We install a certificate callback on it that hands
// each new handshake the holder's current certificate, so replacing the holder
// (TlsReloader) changes the certificate of new connections on every loop at
// once; a handshake already under way or done keeps the one it got.

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <string>

namespace troupe::detail {

// OpenSSL's queued errors as one line, and the queue cleared (it is per
// thread, and lws reads it after its own calls).
std::string openssl_errors();

// A certificate chain (leaf first) and the private key that matches its leaf.
// Immutable once loaded; shared by the handshakes that use it.
class CertifiedKey {
 public:
  ~CertifiedKey();
  CertifiedKey(const CertifiedKey&) = delete;
  CertifiedKey& operator=(const CertifiedKey&) = delete;

  X509* leaf() const { return leaf_; }
  EVP_PKEY* key() const { return key_; }
  STACK_OF(X509) * chain() const { return chain_; }
  // For logs: "CN=example.com serial=1A2B not_after=2027-01-01T00:00:00Z".
  const std::string& description() const { return description_; }

 private:
  friend struct CertifiedKeyLoader;
  CertifiedKey() = default;
  X509* leaf_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  std::string description_;
};

struct LoadedCertificate {
  std::shared_ptr<const CertifiedKey> certified;  // null on failure
  std::string error;                              // why, when null
};

// Reads a PEM certificate chain (leaf first, then its intermediates) and an
// unencrypted PEM private key, and checks that the key is the leaf's. Never
// prompts for a passphrase: an encrypted key fails. Any thread.
LoadedCertificate load_certified_key(const std::string& cert_file, const std::string& key_file);

// What changing a file changes: compared to notice that the certificate or key
// was replaced (rename, symbolic link switched, rewritten in place).
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  long long mtime_ns = 0;
  long long ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
// stat() of both files (symbolic links followed).
struct FilesStamp {
  FileStamp cert, key;
  bool operator==(const FilesStamp&) const = default;
};
FilesStamp stamp_files(const std::string& cert_file, const std::string& key_file);

// The certificate new handshakes get. Thread-safe: loops read it in their
// handshakes while the reloader replaces it.
class TlsCertificates {
 public:
  // Also draws the session ticket keys all loops share.
  TlsCertificates(std::string cert_file, std::string key_file);

  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

  std::shared_ptr<const CertifiedKey> current() const;
  void replace(std::shared_ptr<const CertifiedKey> next);

  // Session ticket keys (name, HMAC and AES keys: OpenSSL's 80-byte layout),
  // the same in every loop's SSL_CTX so that a ticket resumes on any loop.
  // Random per server: tickets do not outlive it.
  const unsigned char* ticket_keys() const { return ticket_keys_; }
  static constexpr int ticket_keys_size = 80;

 private:
  const std::string cert_file_, key_file_;
  unsigned char ticket_keys_[ticket_keys_size] = {};
  mutable std::mutex mu_;
  std::shared_ptr<const CertifiedKey> current_;
};

// Sets up an lws vhost's server SSL_CTX: TLS 1.2 at least (1.3 whenever the
// client has it), forward-secret AEAD ciphers only, no renegotiation or
// compression, and `certificates`' current certificate for every handshake
// (the object must outlive the SSL_CTX), and its shared session ticket keys.
// False, with `error`, if OpenSSL
// refused a setting.
bool configure_server_context(SSL_CTX* ctx, TlsCertificates& certificates, std::string& error);

}  // namespace troupe::detail
