// Fuzzes parse_redis_url (persist/redis_url.hpp).
//
// Properties:
//   - it fails only with invalid_argument, and its message never quotes the
//     password: a byte of the text between "://" and the last '@' that
//     appears nowhere else in the URL nor in any of the parser's own words
//     never appears in the message;
//   - an accepted tcp URL has a host without '/' or '@', a port in 1..65535
//     and a db in 0..2^20; an accepted unix URL an absolute path without '?';
//   - user and password are exactly the strict percent-decoding (two hex
//     digits after each '%') of the URL's userinfo;
//   - display() shows the user, "***" for any password, then only the host,
//     port and db (or socket path and db), and parses back to the same
//     transport, host, port, path and db.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "persist/redis_url.hpp"

namespace {

using namespace troupe;

std::optional<std::string> strict_percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

// Bytes the parser's messages never contain: controls, bytes >= 0x80, and a
// few punctuation marks its words do not use.
bool foreign_to_messages(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u >= 0x7f || c == '#' || c == '&' || c == '!' || c == '|';
}

void check_error(std::string_view url, const StoreError& error) {
  FUZZ_CHECK(error.code == StoreErrc::invalid_argument);
  const auto scheme_end = url.find("://");
  const auto at = url.rfind('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end)
    return;
  const std::string_view secret = url.substr(scheme_end + 3, at - scheme_end - 3);
  const std::string_view outside_before = url.substr(0, scheme_end + 3);
  const std::string_view outside_after = url.substr(at);
  for (char c : secret) {
    if (!foreign_to_messages(c) || outside_before.find(c) != std::string_view::npos ||
        outside_after.find(c) != std::string_view::npos)
      continue;
    FUZZ_CHECK(error.message.find(c) == std::string::npos);
  }
}

void check_endpoint(std::string_view url, const RedisEndpoint& ep) {
  if (ep.transport == RedisEndpoint::Transport::unix_socket) {
    FUZZ_CHECK(url.starts_with("unix://"));
    FUZZ_CHECK(!ep.path.empty() && ep.path[0] == '/' && ep.path.find('?') == std::string::npos);
    FUZZ_CHECK(ep.host.empty() && ep.user.empty() && ep.password.empty());
  } else {
    FUZZ_CHECK(url.starts_with("redis://"));
    FUZZ_CHECK(!ep.host.empty() && ep.host.find_first_of("/@") == std::string::npos);
    FUZZ_CHECK(ep.port >= 1 && ep.port <= 65535);
    FUZZ_CHECK(ep.path.empty());
    // The userinfo: what precedes the last '@' of the authority.
    const std::string_view rest = url.substr(8);
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos) {
      FUZZ_CHECK(ep.user.empty() && ep.password.empty());
    } else {
      const std::string_view userinfo = authority.substr(0, at);
      const auto colon = userinfo.find(':');
      FUZZ_CHECK(colon != std::string_view::npos);
      const auto user = strict_percent_decode(userinfo.substr(0, colon));
      const auto password = strict_percent_decode(userinfo.substr(colon + 1));
      FUZZ_CHECK(user && *user == ep.user);
      FUZZ_CHECK(password && *password == ep.password);
    }
  }
  FUZZ_CHECK(ep.db >= 0 && ep.db <= (1 << 20));

  // display(): the user as it is, "***" for the password, then what has no secret.
  const std::string display = ep.display();
  std::string rest = display;
  if (ep.transport == RedisEndpoint::Transport::tcp && !(ep.user.empty() && ep.password.empty())) {
    const std::string auth = "redis://" + ep.user + ":***@";
    FUZZ_CHECK(display.starts_with(auth));
    rest = display.substr(auth.size());
  }
  // The rest holds no secret: host, port and db, or the socket path and db.
  if (ep.transport == RedisEndpoint::Transport::tcp) {
    const std::string host = ep.host.find(':') == std::string::npos ? ep.host : "[" + ep.host + "]";
    FUZZ_CHECK(rest == "redis://" + host + ":" + std::to_string(ep.port) + "/" +
                           std::to_string(ep.db) ||
               rest == host + ":" + std::to_string(ep.port) + "/" + std::to_string(ep.db));
  } else {
    FUZZ_CHECK(rest == "unix://" + ep.path + (ep.db ? "?db=" + std::to_string(ep.db) : ""));
  }
  // A user with these bytes is shown as decoded, so it would not read back.
  if (ep.user.find_first_of(":@/%?[]") != std::string::npos) return;
  const auto again = parse_redis_url(display);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->transport == ep.transport);
  FUZZ_CHECK(again->host == ep.host && again->port == ep.port);
  FUZZ_CHECK(again->path == ep.path && again->db == ep.db);
  FUZZ_CHECK(again->user == ep.user);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  const auto result = parse_redis_url(url);
  if (result) {
    check_endpoint(url, *result);
  } else {
    check_error(url, result.error());
  }
  return 0;
}
