#include "net/ws/detail/request_reader.hpp"

#include <cstring>

namespace troupe::detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string copy_token(lws* wsi, lws_token_indexes token) {
  const int length = lws_hdr_total_length(wsi, token);
  if (length <= 0) return {};
  std::string value(static_cast<std::size_t>(length) + 1, '\0');
  const int copied = lws_hdr_copy(wsi, value.data(), length + 1, token);
  value.resize(copied > 0 ? static_cast<std::size_t>(copied) : 0);
  return value;
}

void read_query(lws* wsi, KeyValues& query) {
  const int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0) return;
  std::string fragment(static_cast<std::size_t>(total) + 1, '\0');
  for (int i = 0;; ++i) {
    const int n =
        lws_hdr_copy_fragment(wsi, fragment.data(), total + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    const std::string_view arg(fragment.data(), static_cast<std::size_t>(n));
    if (arg.empty()) continue;
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos) {
      query.emplace_back(std::string(arg), std::string());
    } else {
      query.emplace_back(std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1)));
    }
  }
}

void read_headers(lws* wsi, const std::vector<std::string>& captured, KeyValues& headers) {
  for (int t = 0; t < WSI_TOKEN_COUNT; ++t) {
    const auto token = static_cast<lws_token_indexes>(t);
    const auto* name = reinterpret_cast<const char*>(lws_token_to_string(token));
    if (!name) continue;
    const std::size_t length = std::strlen(name);
    // Real headers are spelled "host:"; the request line's pseudo tokens
    // ("get ", ...) and HTTP/2 pseudo headers (":path") are not headers.
    if (length < 2 || name[length - 1] != ':' || name[0] == ':') continue;
    if (lws_hdr_total_length(wsi, token) <= 0) continue;
    headers.emplace_back(std::string(name, length - 1), copy_token(wsi, token));
  }
  for (const auto& wanted : captured) {
    const std::string key = wanted + ":";
    const int nlen = static_cast<int>(key.size());
    const int length = lws_hdr_custom_length(wsi, key.c_str(), nlen);
    if (length < 0) continue;
    std::string value(static_cast<std::size_t>(length) + 1, '\0');
    const int copied = lws_hdr_custom_copy(wsi, value.data(), length + 1, key.c_str(), nlen);
    value.resize(copied > 0 ? static_cast<std::size_t>(copied) : 0);
    headers.emplace_back(wanted, std::string(trim(value)));
  }
}

}  // namespace

KeyValues parse_cookies(std::string_view header) {
  KeyValues cookies;
  while (!header.empty()) {
    const auto end = header.find(';');
    const std::string_view pair = trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    const auto eq = pair.find('=');
    if (pair.empty() || eq == 0 || eq == std::string_view::npos) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    cookies.emplace_back(std::string(trim(pair.substr(0, eq))), std::string(value));
  }
  return cookies;
}

HttpRequest read_request(lws* wsi, const std::vector<std::string>& captured_headers) {
  HttpRequest request;
  request.path = copy_token(wsi, WSI_TOKEN_GET_URI);
  read_query(wsi, request.query);
  read_headers(wsi, captured_headers, request.headers);
  if (auto cookie = request.header("cookie")) request.cookies = parse_cookies(*cookie);
  char peer[64] = {};
  if (lws_get_peer_simple(wsi, peer, sizeof(peer))) request.peer = peer;
  return request;
}

}  // namespace troupe::detail
