#include "persist/detail/file_names.hpp"

namespace troupe::detail {
namespace {

bool stands_for_itself(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '_':
    case '=':
    case '@':
    case ',':
    case '+':
    case ':':
    case '~':
      return true;
    default:
      return false;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is never written, so it marks a foreign name
}

}  // namespace

std::string key_to_file_name(std::string_view key) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string name;
  name.reserve(key.size());
  for (unsigned char c : key) {
    if (stands_for_itself(c)) {
      name += static_cast<char>(c);
    } else {
      name += '%';
      name += hex[c >> 4];
      name += hex[c & 15];
    }
  }
  return name;
}

std::optional<std::string> file_name_to_key(std::string_view name) {
  if (name.empty()) return std::nullopt;
  std::string key;
  key.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c == '%') {
      if (i + 2 >= name.size()) return std::nullopt;
      int hi = hex_value(name[i + 1]), lo = hex_value(name[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      // Only the canonical form decodes, so two names never map to one key.
      if (stands_for_itself(decoded)) return std::nullopt;
      key += static_cast<char>(decoded);
      i += 2;
    } else if (stands_for_itself(c)) {
      key += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  return key;
}

}  // namespace troupe::detail
