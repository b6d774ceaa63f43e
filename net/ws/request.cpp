#include <string_view>

#include "net/ws/types.hpp"

namespace troupe {
namespace {

std::optional<std::string_view> find(const KeyValues& pairs, std::string_view key) {
  for (const auto& [k, v] : pairs) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view lower_name) const {
  return find(headers, lower_name);
}

std::optional<std::string_view> HttpRequest::query_param(std::string_view key) const {
  return find(query, key);
}

std::optional<std::string_view> HttpRequest::cookie(std::string_view key) const {
  return find(cookies, key);
}

}  // namespace troupe
