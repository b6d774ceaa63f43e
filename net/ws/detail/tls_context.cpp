#include "net/ws/detail/tls_context.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace troupe::detail {
namespace {

// TLS 1.2 suites, all with forward secrecy and an AEAD (Mozilla's
// "intermediate" list without the DHE ones, which need parameters); TLS 1.3's
// own suites are all fine and stay OpenSSL's default.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string time_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string describe(X509* leaf) {
  std::string text;
  char subject[256];
  if (X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof(subject))) text = subject;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      text += std::string(" serial=") + hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  text += " not_after=" + time_text(X509_get0_notAfter(leaf));
  return text;
}

int select_certificate(SSL* ssl, void* arg) {
  const auto current = static_cast<TlsCertificates*>(arg)->current();
  if (!current) return 0;
  // SSL_new copied the context's certificate: after a reload, this handshake
  // gets the new one instead.
  if (SSL_get_certificate(ssl) == current->leaf()) return 1;
  return SSL_use_cert_and_key(ssl, current->leaf(), current->key(), current->chain(), 1) == 1 ? 1
                                                                                              : 0;
}

long long nanoseconds(const timespec& t) {
  return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

FileStamp stamp_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size, nanoseconds(st.st_mtim), nanoseconds(st.st_ctim)};
}

}  // namespace

// OpenSSL's queued errors as one line, and the queue cleared (it is per
// thread, and lws reads it after its own calls).
std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? std::string("no detail from OpenSSL") : text;
}

// Never asks for a passphrase (OpenSSL's default would read the terminal).
int no_passphrase(char*, int, int, void*) {
  return -1;
}

struct Bio {
  BIO* bio = nullptr;
  ~Bio() {
    if (bio) BIO_free(bio);
  }
};

struct CertifiedKeyLoader {
  static LoadedCertificate load(const std::string& cert_file, const std::string& key_file) {
    ERR_clear_error();
    std::shared_ptr<CertifiedKey> result(new CertifiedKey);
    Bio certs{BIO_new_file(cert_file.c_str(), "r")};
    if (!certs.bio) {
      return {nullptr, "cannot read certificate file " + cert_file + ": " + openssl_errors()};
    }
    result->leaf_ = PEM_read_bio_X509_AUX(certs.bio, nullptr, no_passphrase, nullptr);
    if (!result->leaf_) {
      return {nullptr, "no PEM certificate in " + cert_file + ": " + openssl_errors()};
    }
    result->chain_ = sk_X509_new_null();
    if (!result->chain_) return {nullptr, "out of memory"};
    while (X509* extra = PEM_read_bio_X509(certs.bio, nullptr, no_passphrase, nullptr)) {
      if (!sk_X509_push(result->chain_, extra)) {
        X509_free(extra);
        return {nullptr, "out of memory"};
      }
    }
    // The loop above ends on "no more PEM data": not an error.
    const unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
      ERR_clear_error();
    } else if (last != 0) {
      return {nullptr, "bad certificate in the chain of " + cert_file + ": " + openssl_errors()};
    }

    Bio key{BIO_new_file(key_file.c_str(), "r")};
    if (!key.bio) return {nullptr, "cannot read key file " + key_file + ": " + openssl_errors()};
    result->key_ = PEM_read_bio_PrivateKey(key.bio, nullptr, no_passphrase, nullptr);
    if (!result->key_) {
      return {nullptr, "no unencrypted PEM private key in " + key_file + ": " + openssl_errors()};
    }
    if (X509_check_private_key(result->leaf_, result->key_) != 1) {
      return {nullptr, "the key in " + key_file + " does not match the certificate in " +
                           cert_file + ": " + openssl_errors()};
    }
    result->description_ = describe(result->leaf_);
    return {std::move(result), {}};
  }
};

CertifiedKey::~CertifiedKey() {
  if (leaf_) X509_free(leaf_);
  if (key_) EVP_PKEY_free(key_);
  if (chain_) sk_X509_pop_free(chain_, X509_free);
}

LoadedCertificate load_certified_key(const std::string& cert_file, const std::string& key_file) {
  return CertifiedKeyLoader::load(cert_file, key_file);
}

FilesStamp stamp_files(const std::string& cert_file, const std::string& key_file) {
  return {stamp_file(cert_file), stamp_file(key_file)};
}

TlsCertificates::TlsCertificates(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
  if (RAND_bytes(ticket_keys_, ticket_keys_size) != 1) {
    throw std::runtime_error("TLS: no random bytes for the session ticket keys");
  }
}

std::shared_ptr<const CertifiedKey> TlsCertificates::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void TlsCertificates::replace(std::shared_ptr<const CertifiedKey> next) {
  std::lock_guard lock(mu_);
  current_ = std::move(next);
}

bool configure_server_context(SSL_CTX* ctx, TlsCertificates& certificates, std::string& error) {
  ERR_clear_error();
  const auto current = certificates.current();
  if (!current) {
    error = "no certificate loaded";
    return false;
  }
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
      SSL_CTX_use_cert_and_key(ctx, current->leaf(), current->key(), current->chain(), 1) != 1) {
    error = openssl_errors();
    return false;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Each loop has its own SSL_CTX and a client's next connection usually
  // lands on another loop: the same keys let its ticket resume there.
  if (SSL_CTX_set_tlsext_ticket_keys(ctx, const_cast<unsigned char*>(certificates.ticket_keys()),
                                     TlsCertificates::ticket_keys_size) != 1) {
    error = "cannot set the session ticket keys: " + openssl_errors();
    return false;
  }
  SSL_CTX_set_cert_cb(ctx, select_certificate, &certificates);
  return true;
}

}  // namespace troupe::detail
