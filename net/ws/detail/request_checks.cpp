#include "net/ws/detail/request_checks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "net/ws/detail/server_shared.hpp"
#include "net/ws/utf8.hpp"

namespace troupe::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& entry) { return iequals(entry, value); });
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 5 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "example.com:8080" -> {"example.com", "8080"}; "[::1]:80" -> {"[::1]", "80"}.
// The port is empty when absent; nullopt when the authority is malformed.
struct Authority {
  std::string_view host, port;
};
std::optional<Authority> split_authority(std::string_view authority) {
  Authority a;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !all_digits(rest.substr(1))) return std::nullopt;
      a.port = rest.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    a.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      a.port = authority.substr(colon + 1);
      if (!all_digits(a.port)) return std::nullopt;
    }
  }
  if (a.host.empty()) return std::nullopt;
  for (char c : a.host) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '@' || c == '\\') return std::nullopt;
  }
  return a;
}

}  // namespace

bool is_loopback_address(std::string_view address) {
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Refusal check_host(const ws::Options& options, std::optional<std::string_view> host) {
  const auto& allowed = options.allowed_hosts;
  if (listed(allowed, "*")) return {};
  // No Host: not a browser (browsers always send one), so not DNS rebinding.
  if (!host) return {};
  const auto authority = split_authority(*host);
  if (!authority) return {400, "malformed Host header"};
  if (allowed.empty()) {
    // A server on a public address answers whatever name points at it.
    if (!is_loopback_address(options.address)) return {};
    for (std::string_view name : {"localhost", "127.0.0.1", "[::1]"}) {
      if (iequals(authority->host, name)) return {};
    }
    return {421,
            "Host not allowed: a loopback server answers only localhost, 127.0.0.1 or "
            "[::1] (ws::Options::allowed_hosts)"};
  }
  // An entry without a port allows any port; with one, only that port.
  if (listed(allowed, authority->host) || listed(allowed, *host)) return {};
  return {421, "Host not allowed (ws::Options::allowed_hosts)"};
}

Refusal check_origin(const ws::Options& options, std::optional<std::string_view> origin,
                     std::optional<std::string_view> host) {
  // No Origin: not a browser, so not a cross-site request.
  if (!origin) return {};
  const auto& allowed = options.allowed_origins;
  if (listed(allowed, "*") || listed(allowed, *origin)) return {};
  // "null" (sandboxed frames, file: pages) is never same-origin.
  const auto scheme_end = origin->find("://");
  if (*origin == "null" || scheme_end == std::string_view::npos || !host) {
    return {403, "Origin not allowed (ws::Options::allowed_origins)"};
  }
  const std::string_view scheme = origin->substr(0, scheme_end);
  const auto from = split_authority(origin->substr(scheme_end + 3));
  const auto to = split_authority(*host);
  if (!from || !to || !iequals(from->host, to->host)) {
    return {403, "Origin not allowed: cross-origin request (ws::Options::allowed_origins)"};
  }
  // Browsers leave the scheme's default port out of both headers.
  const bool secure = iequals(scheme, "https") || iequals(scheme, "wss");
  const std::string_view default_port = secure ? "443" : "80";
  const auto port_or_default = [&](std::string_view port) {
    return port.empty() ? default_port : port;
  };
  if (port_or_default(from->port) != port_or_default(to->port)) {
    return {403, "Origin not allowed: cross-origin request (ws::Options::allowed_origins)"};
  }
  return {};
}

const char* status_text(int status) {
  switch (status) {
    case 301:
      return "Moved Permanently";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 414:
      return "URI Too Long";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status < 500 ? "Refused" : "Unavailable";
  }
}

Refusal check_request(const ws::Options& options, const HttpRequest& request) {
  const auto host = request.header("host");
  if (Refusal refusal = check_host(options, host)) return refusal;
  if (Refusal refusal = check_origin(options, request.header("origin"), host)) return refusal;
  return check_query(request.query);
}

Refusal screen_request(ServerShared& shared, const HttpRequest& request) {
  const auto host = request.header("host");
  Refusal refusal = check_host(shared.options, host);
  if (refusal) {
    AtomicCounters::bump(shared.counters.host_refused);
    return refusal;
  }
  refusal = check_origin(shared.options, request.header("origin"), host);
  if (refusal) {
    AtomicCounters::bump(shared.counters.origin_refused);
    return refusal;
  }
  return check_query(request.query);
}

Refusal check_query(const KeyValues& query) {
  for (const auto& [key, value] : query) {
    for (std::string_view text : {std::string_view(key), std::string_view(value)}) {
      if (!is_valid_utf8(text) || text.find('\0') != std::string_view::npos) {
        return {400, "query parameter is not valid UTF-8 or contains NUL"};
      }
    }
  }
  return {};
}

}  // namespace troupe::detail
