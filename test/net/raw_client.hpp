#pragma once
// Test support: a blocking TCP client that speaks HTTP/1.1 and RFC 6455 by
// hand, for what a well-behaved client library will not do: malformed frames,
// bad UTF-8, never answering pings, stalling a handshake, reading raw status
// lines. Every read takes a timeout, so a test cannot hang on it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::test {

using std::chrono::milliseconds;

struct RawFrame {
  std::uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  bool fin = true;
  std::string payload;

  std::uint16_t close_code() const;  // for opcode 8; 1005 when absent
};

namespace opcode {
inline constexpr std::uint8_t continuation = 0, text = 1, binary = 2, close = 8, ping = 9,
                              pong = 10;
}

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(RawClient&& other) noexcept;
  RawClient& operator=(RawClient&& other) noexcept;

  bool connect(std::uint16_t port, const char* address = "127.0.0.1");
  bool connected() const { return fd_ >= 0; }
  bool send_all(std::string_view bytes);
  // The response head, through "\r\n\r\n"; empty on timeout or EOF.
  std::string read_head(milliseconds timeout);
  // Sends an upgrade request for `path` and returns the response status (101
  // on success), or 0 when no response came.
  int upgrade(std::string_view path, std::string_view extra_headers = {},
              milliseconds timeout = milliseconds(3000));
  // A masked client frame; `rsv` sets the reserved bits (0x70) for malformed ones.
  bool send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                  std::uint8_t rsv = 0);
  // The bytes of one masked client frame, to concatenate or chop before sending.
  static std::string encode_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                                  std::uint8_t rsv = 0);
  // Sends `bytes` in writes of at most `chop` bytes each (0: one write).
  bool send_chopped(std::string_view bytes, std::size_t chop);
  std::optional<RawFrame> read_frame(milliseconds timeout);
  // Reads (and discards) until the server closes the TCP connection.
  bool wait_eof(milliseconds timeout);
  // Body after the head of the last read_head(), for small HTTP responses.
  std::string read_body(std::size_t length, milliseconds timeout);

 private:
  bool fill(milliseconds timeout);  // reads more into buffer_; false on EOF/timeout

  int fd_ = -1;
  std::string buffer_;
};

// Sends `request` as it is over a fresh connection and reads one response:
// {status, body}; status 0 when none came.
std::pair<int, std::string> http_exchange(std::uint16_t port, std::string_view request);

// An upgrade request for `path` with the given Host (and extra header lines).
std::string upgrade_request(std::string_view path, std::string_view host = "127.0.0.1",
                            std::string_view extra_headers = {});

// One GET over a fresh connection: returns {status, body}; status 0 on failure.
std::pair<int, std::string> http_get(std::uint16_t port, std::string_view path,
                                     std::string_view extra_headers = {});

// The value of one line of /metrics ("name{labels} value"); -1 if the
// line is absent or /metrics did not answer 200.
long metric(std::uint16_t port, const std::string& name);

int status_of(std::string_view head);
std::string header_of(std::string_view head, std::string_view lower_name);

}  // namespace troupe::test
