#include "test/net/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace troupe::test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::uint16_t RawFrame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

RawClient::RawClient(RawClient&& other) noexcept
    : fd_(other.fd_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

RawClient& RawClient::operator=(RawClient&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    other.fd_ = -1;
  }
  return *this;
}

bool RawClient::connect(std::uint16_t port, const char* address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(*v6);
  } else {
    return false;
  }
  fd_ = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  return true;
}

bool RawClient::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::fill(milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return false;
  char chunk[16384];
  const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::string RawClient::read_head(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = buffer_.substr(0, end + 4);
      buffer_.erase(0, end + 4);
      return head;
    }
    if (!fill(milliseconds(remaining_ms(deadline)))) return {};
  }
}

std::string RawClient::read_body(std::size_t length, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buffer_.size() < length) {
    if (!fill(milliseconds(remaining_ms(deadline)))) break;
  }
  std::string body = buffer_.substr(0, length);
  buffer_.erase(0, body.size());
  return body;
}

std::string upgrade_request(std::string_view path, std::string_view host,
                            std::string_view extra_headers) {
  std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) +
                        "\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n";
  request += extra_headers;
  request += "\r\n";
  return request;
}

int RawClient::upgrade(std::string_view path, std::string_view extra_headers,
                       milliseconds timeout) {
  if (!send_all(upgrade_request(path, "127.0.0.1", extra_headers))) return 0;
  return status_of(read_head(timeout));
}

std::string RawClient::encode_frame(std::uint8_t op, std::string_view payload, bool fin,
                                    std::uint8_t rsv) {
  std::string frame;
  frame += static_cast<char>((fin ? 0x80 : 0x00) | (rsv & 0x70) | (op & 0x0f));
  const std::size_t n = payload.size();
  if (n < 126) {
    frame += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>(n >> 8);
    frame += static_cast<char>(n & 0xff);
  } else {
    frame += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
  }
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  const std::size_t start = frame.size();
  frame.resize(start + n);
  for (std::size_t i = 0; i < n; ++i)
    frame[start + i] = static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4]));
  return frame;
}

bool RawClient::send_frame(std::uint8_t op, std::string_view payload, bool fin, std::uint8_t rsv) {
  return send_all(encode_frame(op, payload, fin, rsv));
}

bool RawClient::send_chopped(std::string_view bytes, std::size_t chop) {
  if (chop == 0) return send_all(bytes);
  while (!bytes.empty()) {
    const std::size_t n = std::min(chop, bytes.size());
    if (!send_all(bytes.substr(0, n))) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

std::optional<RawFrame> RawClient::read_frame(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const auto need = [&](std::size_t bytes) {
    while (buffer_.size() < bytes) {
      if (!fill(milliseconds(remaining_ms(deadline)))) return false;
    }
    return true;
  };
  if (!need(2)) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(buffer_[0]);
  const auto b1 = static_cast<unsigned char>(buffer_[1]);
  std::size_t header = 2;
  std::uint64_t length = b1 & 0x7f;
  if (length == 126) {
    if (!need(4)) return std::nullopt;
    length = (static_cast<unsigned char>(buffer_[2]) << 8) | static_cast<unsigned char>(buffer_[3]);
    header = 4;
  } else if (length == 127) {
    if (!need(10)) return std::nullopt;
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[2 + i]);
    header = 10;
  }
  if (!need(header + length)) return std::nullopt;
  RawFrame frame;
  frame.fin = (b0 & 0x80) != 0;
  frame.opcode = b0 & 0x0f;
  frame.payload = buffer_.substr(header, length);
  buffer_.erase(0, header + length);
  return frame;
}

bool RawClient::wait_eof(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready <= 0) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

std::pair<int, std::string> http_get(std::uint16_t port, std::string_view path,
                                     std::string_view extra_headers) {
  std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  request += extra_headers;
  request += "Connection: close\r\n\r\n";
  return http_exchange(port, request);
}

std::pair<int, std::string> http_exchange(std::uint16_t port, std::string_view request) {
  RawClient client;
  if (!client.connect(port)) return {0, {}};
  if (!client.send_all(request)) return {0, {}};
  const std::string head = client.read_head(milliseconds(3000));
  const std::string length = header_of(head, "content-length");
  std::string body;
  if (!length.empty()) body = client.read_body(std::stoul(length), milliseconds(3000));
  return {status_of(head), body};
}

int status_of(std::string_view head) {
  // "HTTP/1.1 404 Not Found"
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return 0;
  const auto space = head.find(' ');
  if (space == std::string_view::npos || space + 4 > head.size()) return 0;
  return std::atoi(std::string(head.substr(space + 1, 3)).c_str());
}

std::string header_of(std::string_view head, std::string_view lower_name) {
  const std::string text = lower(head);
  const std::string key = "\r\n" + std::string(lower_name) + ":";
  const auto at = text.find(key);
  if (at == std::string::npos) return {};
  auto start = at + key.size();
  const auto end = head.find("\r\n", start);
  while (start < end && head[start] == ' ') ++start;
  return std::string(head.substr(start, end - start));
}

long metric(std::uint16_t port, const std::string& name) {
  auto [status, body] = http_get(port, "/metrics");
  auto at = body.find("\n" + name + " ");
  if (status != 200 || at == std::string::npos) return -1;
  return std::atol(body.c_str() + at + name.size() + 2);
}

}  // namespace troupe::test
