// Load for bench/tls.sh: the cost of TLS on the WebSocket server, measured
// against the same server without it. Loopback only, bounded in time.
//
//   tls_load --port=N [--tls --ca=FILE] [--seconds=S] [--threads=T]
//            [--connections=C] [--size=B]
//
// Two phases, each --seconds long (default 5), with --threads client threads
// (default 2), blocking sockets:
//   handshakes  each thread connects, does the TLS handshake (a full one: no
//               session resumption), upgrades to /echo/h<thread>, sends one
//               message and reads its echo, and closes; counted per upgrade
//               that echoed.
//   echo        --connections (default 100) open connections to /echo/e<i>,
//               shared among the threads; each thread sends one --size byte
//               (default 32) text message on each of its connections, then
//               reads the echoes, and again; counted per echo.
// Prints one line: bench=tls|plain handshakes_per_s=N echo_msgs_per_s=N.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.hpp"

namespace {

using troupe::bench::Clock;

struct Setup {
  std::uint16_t port = 0;
  SSL_CTX* tls = nullptr;  // null: plain
};

// One client connection, plain or TLS, blocking with a 10 s timeout.
class Conn {
 public:
  ~Conn() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(const Setup& setup, const std::string& path) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    const int on = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(setup.port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return false;
    if (setup.tls) {
      ssl_ = SSL_new(setup.tls);
      SSL_set_tlsext_host_name(ssl_, "localhost");
      SSL_set1_host(ssl_, "localhost");
      SSL_set_fd(ssl_, fd_);
      if (SSL_connect(ssl_) != 1) {
        ERR_print_errors_fp(stderr);
        return false;
      }
    }
    const std::string request = "GET " + path +
                                " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: "
                                "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (!write(request)) return false;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    const bool ok = buffer_.compare(0, 12, "HTTP/1.1 101") == 0;
    buffer_.erase(0, end + 4);
    return ok;
  }

  bool send_text(const std::string& text) {
    std::string frame;
    frame += static_cast<char>(0x81);
    if (text.size() < 126) {
      frame += static_cast<char>(0x80 | text.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(text.size() >> 8);
      frame += static_cast<char>(text.size() & 0xff);
    }
    frame.append("\0\0\0\0", 4);  // a zero mask: the payload goes as it is
    frame += text;
    return write(frame);
  }

  bool read_message() {
    for (;;) {
      if (buffer_.size() >= 2) {
        std::size_t length = static_cast<unsigned char>(buffer_[1]) & 0x7f;
        std::size_t header = 2;
        if (length == 126) {
          if (buffer_.size() < 4) goto more;
          length = (static_cast<unsigned char>(buffer_[2]) << 8) |
                   static_cast<unsigned char>(buffer_[3]);
          header = 4;
        }
        if (buffer_.size() >= header + length) {
          buffer_.erase(0, header + length);
          return true;
        }
      }
    more:
      if (!fill()) return false;
    }
  }

 private:
  bool write(const std::string& bytes) {
    if (ssl_) return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  bool fill() {
    char chunk[16384];
    const long n =
        ssl_ ? SSL_read(ssl_, chunk, sizeof(chunk)) : ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

double handshakes(const Setup& setup, int threads, double seconds) {
  std::atomic<long> done{0}, failed{0};
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string path = "/echo/h" + std::to_string(t);
      while (Clock::now() < until) {
        Conn conn;
        if (conn.open(setup, path) && conn.send_text("hello") && conn.read_message()) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) std::fprintf(stderr, "tls_load: %ld handshakes failed\n", failed.load());
  return static_cast<double>(done) / troupe::bench::seconds(start, Clock::now());
}

double echoes(const Setup& setup, int threads, int connections, std::size_t size, double seconds) {
  std::vector<std::vector<std::unique_ptr<Conn>>> owned(static_cast<std::size_t>(threads));
  for (int i = 0; i < connections; ++i) {
    auto conn = std::make_unique<Conn>();
    if (!conn->open(setup, "/echo/e" + std::to_string(i))) {
      std::fprintf(stderr, "tls_load: connection %d failed\n", i);
      return 0;
    }
    owned[static_cast<std::size_t>(i % threads)].push_back(std::move(conn));
  }
  const std::string message(size, 'x');
  std::atomic<long> done{0};
  std::atomic<bool> broken{false};
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (auto& mine : owned) {
    workers.emplace_back([&, list = &mine] {
      while (Clock::now() < until && !broken) {
        for (auto& c : *list) {
          if (!c->send_text(message)) broken = true;
        }
        for (auto& c : *list) {
          if (!c->read_message()) broken = true;
        }
        done.fetch_add(static_cast<long>(list->size()), std::memory_order_relaxed);
      }
    });
  }
  for (auto& w : workers) w.join();
  if (broken) std::fprintf(stderr, "tls_load: an echo connection broke\n");
  return static_cast<double>(done) / troupe::bench::seconds(start, Clock::now());
}

}  // namespace

int main(int argc, char** argv) {
  troupe::bench::Args args(argc, argv);
  Setup setup;
  setup.port = static_cast<std::uint16_t>(args.num("port", 9200));
  const bool tls = args.num("tls", 0) != 0;
  if (tls) {
    setup.tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(setup.tls, SSL_VERIFY_PEER, nullptr);
    // No session cache: every handshake is a full one.
    SSL_CTX_set_session_cache_mode(setup.tls, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_load_verify_file(setup.tls, args.str("ca").c_str()) != 1) {
      std::fprintf(stderr, "tls_load: cannot load --ca=%s\n", args.str("ca").c_str());
      return 2;
    }
  }
  const double seconds = static_cast<double>(args.num("seconds", 5));
  const int threads = static_cast<int>(args.num("threads", 2));
  const double rate = handshakes(setup, threads, seconds);
  const double echo = echoes(setup, threads, static_cast<int>(args.num("connections", 100)),
                             static_cast<std::size_t>(args.num("size", 32)), seconds);
  std::printf("bench=%s handshakes_per_s=%.0f echo_msgs_per_s=%.0f\n", tls ? "tls" : "plain", rate,
              echo);
  if (setup.tls) SSL_CTX_free(setup.tls);
  return rate > 0 && echo > 0 ? 0 : 1;
}
