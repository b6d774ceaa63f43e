#include "persist/redis_url.hpp"

#include <cctype>
#include <charconv>

namespace troupe {
namespace {

// The URL as it may appear in an error: without what follows "//" up to the
// last '@', where a password would be.
std::string masked(std::string_view url) {
  auto scheme_end = url.find("://");
  auto at = url.rfind('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) {
    return std::string(url);
  }
  return std::string(url.substr(0, scheme_end + 3)) + "***" + std::string(url.substr(at));
}

StoreError bad(std::string_view url, const std::string& why) {
  return {StoreErrc::invalid_argument, "invalid Redis URL '" + masked(url) + "': " + why};
}

bool parse_int(std::string_view text, int low, int high, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= low && out <= high;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int v = 0;
    if (i + 2 >= in.size()) return false;
    // Two hex digits: from_chars alone would also take a sign ("%-1").
    if (!std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    auto [end, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || end != in.data() + i + 3) return false;
    out += static_cast<char>(v);
    i += 2;
  }
  return true;
}

StoreResult<RedisEndpoint> parse_unix(std::string_view url, std::string_view rest) {
  RedisEndpoint ep;
  ep.transport = RedisEndpoint::Transport::unix_socket;
  auto query = rest.find('?');
  ep.path = std::string(rest.substr(0, query));
  if (ep.path.empty() || ep.path[0] != '/') {
    return unexpected(bad(url, "expected an absolute socket path, as in unix:///run/redis.sock"));
  }
  if (query != std::string_view::npos) {
    auto q = rest.substr(query + 1);
    if (!q.starts_with("db=") || !parse_int(q.substr(3), 0, 1 << 20, ep.db)) {
      return unexpected(bad(url, "the only query accepted is ?db=N with N a database number"));
    }
  }
  return ep;
}

StoreResult<RedisEndpoint> parse_tcp(std::string_view url, std::string_view rest) {
  RedisEndpoint ep;
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return unexpected(bad(url, "expected [user]:password before '@'"));
    }
    if (!percent_decode(userinfo.substr(0, colon), ep.user) ||
        !percent_decode(userinfo.substr(colon + 1), ep.password)) {
      return unexpected(bad(url, "bad percent-encoding in the user or password"));
    }
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return unexpected(bad(url, "unclosed '[' in the host"));
    ep.host = std::string(authority.substr(1, close - 1));
    if (ep.host.find('[') != std::string::npos) {
      return unexpected(bad(url, "'[' inside the brackets of the IPv6 host"));
    }
    auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return unexpected(bad(url, "unexpected text after the IPv6 host"));
    }
    if (!after.empty()) port_text = after.substr(1);
    if (after == ":") port_text = ":";  // present but empty: reported below
  } else {
    auto colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) port_text = ":";
    }
  }
  if (ep.host.empty()) return unexpected(bad(url, "missing host"));
  if (!port_text.empty() && !parse_int(port_text, 1, 65535, ep.port)) {
    return unexpected(bad(url, "port must be a number from 1 to 65535"));
  }
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty() && !parse_int(db, 0, 1 << 20, ep.db)) {
      return unexpected(bad(url, "the path must be a database number, as in /0"));
    }
  }
  return ep;
}

}  // namespace

std::string RedisEndpoint::display() const {
  if (transport == Transport::unix_socket) {
    return "unix://" + path + (db ? "?db=" + std::to_string(db) : "");
  }
  std::string auth = password.empty() && user.empty() ? "" : user + ":***@";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + auth + h + ":" + std::to_string(port) + "/" + std::to_string(db);
}

StoreResult<RedisEndpoint> parse_redis_url(std::string_view url) {
  if (url.starts_with("redis://")) return parse_tcp(url, url.substr(8));
  if (url.starts_with("unix://")) return parse_unix(url, url.substr(7));
  if (url.starts_with("rediss://")) return unexpected(bad(url, "TLS (rediss://) is not supported"));
  return unexpected(bad(url, "expected redis://host:port/db or unix:///path"));
}

}  // namespace troupe
