// Fuzzes what the WebSocket server decides from a client's bytes before any
// actor sees them: the upgrade request's head (judge_head), the Host and
// Origin checks, the Cookie header, and the name after a route prefix.
//
// Properties:
//   - judge_head answers 0, 400, 414 or 431; a head it passes fits the limit,
//     has no "%00" in its target and no more query parameters than allowed;
//     bytes after a complete head never change the verdict.
//   - is_valid_route_name agrees with a reference written from its header's
//     contract (route_name.hpp), so an accepted name never holds '/', '%',
//     control bytes, malformed UTF-8 or C1 controls; is_valid_utf8 agrees
//     with a reference decoder.
//   - check_host on a loopback server passes only localhost, 127.0.0.1 or
//     [::1] (any port); a Host it passes is same-origin with "http://" + Host.
//   - parse_cookies yields keys that are non-empty, trimmed, without ';' or
//     '=', and values without ';'.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "net/ws/detail/head_reader.hpp"
#include "net/ws/detail/request_checks.hpp"
#include "net/ws/detail/request_reader.hpp"
#include "net/ws/route_name.hpp"
#include "net/ws/utf8.hpp"

namespace {

using namespace troupe;
using namespace troupe::detail;

bool reference_route_name(std::string_view name) {
  if (name.empty() || name.size() > 256 || name == "." || name == "..") return false;
  const std::string_view punctuation = "-._~!$'()*,;=:@";
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (!std::isalnum(c) && punctuation.find(static_cast<char>(c)) == std::string_view::npos)
        return false;
      ++i;
      continue;
    }
    const fuzz::Decoded d = fuzz::decode_utf8(name, i);
    if (d.length == 0 || d.code < 0xa0) return false;
    i += d.length;
  }
  return true;
}

void check_route_name(std::string_view name) {
  const bool valid = is_valid_route_name(name);
  FUZZ_CHECK(valid == reference_route_name(name));
  FUZZ_CHECK(is_valid_utf8(name) == fuzz::valid_utf8(name));
  if (!valid) return;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 0x20 && u != 0x7f);
    FUZZ_CHECK(std::string_view("/%+&?#\\\" ").find(c) == std::string_view::npos);
  }
}

std::size_t count_of(std::string_view text, std::string_view chars) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [&](char c) { return chars.find(c) != std::string_view::npos; }));
}

void check_head(std::string_view bytes, const HeadLimits& limits) {
  const HeadVerdict verdict = judge_head(bytes, limits);
  FUZZ_CHECK(verdict.status == 0 || verdict.status == 400 || verdict.status == 414 ||
             verdict.status == 431);
  FUZZ_CHECK((verdict.status == 0) == verdict.body.empty());
  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end != std::string_view::npos) {
    // What follows the head (a body, a pipelined request) is not judged.
    const HeadVerdict head_only = judge_head(bytes.substr(0, head_end + 4), limits);
    FUZZ_CHECK(head_only.status == verdict.status);
  }
  if (verdict.status != 0) return;
  if (head_end == std::string_view::npos) {
    FUZZ_CHECK(bytes.size() <= limits.max_head_bytes);
    return;
  }
  FUZZ_CHECK(head_end + 4 <= limits.max_head_bytes);
  // "METHOD SP target SP version": the target is what lies between the spaces.
  const std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  if (count_of(line, " ") != 2) return;
  const auto first = line.find(' ');
  const std::string_view target = line.substr(first + 1, line.rfind(' ') - first - 1);
  FUZZ_CHECK(target.find("%00") == std::string_view::npos);
  const auto question = target.find('?');
  if (question != std::string_view::npos) {
    FUZZ_CHECK(1 + count_of(target.substr(question + 1), "&;") <= limits.max_query_params);
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void check_host_and_origin(std::string_view host, std::string_view origin) {
  ws::Options loopback;  // 127.0.0.1, no lists: localhost names only, same origin
  const Refusal on_loopback = check_host(loopback, host);
  FUZZ_CHECK(on_loopback.status == 0 || on_loopback.status == 400 || on_loopback.status == 421);
  if (!on_loopback) {
    // The name without its port: "[::1]:80" -> "[::1]", "localhost:1" -> "localhost".
    std::string_view name = host;
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos && (host.front() != '[' || colon > host.rfind(']')))
      name = host.substr(0, colon);
    FUZZ_CHECK(iequals(name, "localhost") || name == "127.0.0.1" || name == "[::1]");
    const std::string same = "http://" + std::string(host);
    FUZZ_CHECK(!check_origin(loopback, same, host));
  }
  FUZZ_CHECK(!check_host(loopback, std::nullopt));

  ws::Options listed;
  listed.address = "0.0.0.0";
  listed.allowed_hosts = {"example.com", "api.example.com:8443"};
  listed.allowed_origins = {"https://app.example.com"};
  const Refusal host_refusal = check_host(listed, host);
  FUZZ_CHECK(host_refusal.status == 0 || host_refusal.status == 400 || host_refusal.status == 421);
  const Refusal origin_refusal = check_origin(listed, origin, host);
  FUZZ_CHECK(origin_refusal.status == 0 || origin_refusal.status == 403);
  if (origin == "null") FUZZ_CHECK(origin_refusal.status == 403);
  FUZZ_CHECK(!check_origin(listed, "https://app.example.com", host));

  ws::Options open_server;
  open_server.address = "0.0.0.0";
  const Refusal open_refusal = check_host(open_server, host);
  FUZZ_CHECK(open_refusal.status == 0 || open_refusal.status == 400);
}

void check_cookies(std::string_view header) {
  const KeyValues cookies = parse_cookies(header);
  FUZZ_CHECK(cookies.size() <= count_of(header, ";") + 1);
  for (const auto& [key, value] : cookies) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(key.find_first_of(";=") == std::string::npos);
    FUZZ_CHECK(key.front() != ' ' && key.front() != '\t');
    FUZZ_CHECK(key.back() != ' ' && key.back() != '\t');
    FUZZ_CHECK(value.find(';') == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_head(bytes, HeadLimits{});
  check_head(bytes, HeadLimits{64, 4, {}});
  check_route_name(bytes);
  // Host and Origin: the first line and the rest.
  const auto newline = bytes.find('\n');
  const std::string_view host = bytes.substr(0, newline);
  const std::string_view origin =
      newline == std::string_view::npos ? std::string_view{} : bytes.substr(newline + 1);
  check_host_and_origin(host, origin);
  check_cookies(bytes);
  return 0;
}
