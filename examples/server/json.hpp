#pragma once
// Just enough JSON for the examples' protocols: flat objects whose values
// are strings, numbers or booleans in, and building objects out. Not a
// general JSON library (the examples need nothing more).

#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

// A flat JSON object: keys to their raw scalar values (strings unescaped).
using JsonObject = std::map<std::string, std::string, std::less<>>;

namespace detail {

struct Reader {
  std::string_view s;
  std::size_t i = 0;

  void skip_space() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    skip_space();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i < s.size()) {
      char c = s[i++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) return std::nullopt;
      char e = s[i++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (i + 4 > s.size()) return std::nullopt;
          unsigned code = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s[i++];
            code <<= 4;
            if (h >= '0' && h <= '9')
              code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
              code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              code |= static_cast<unsigned>(h - 'A' + 10);
            else
              return std::nullopt;
          }
          // UTF-8 for the basic plane (surrogate pairs are kept as they are).
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }
  std::optional<std::string> scalar() {
    skip_space();
    if (i < s.size() && s[i] == '"') return string();
    std::size_t start = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                            s[i] == '+' || s[i] == '.'))
      ++i;
    if (i == start) return std::nullopt;
    return std::string(s.substr(start, i - start));
  }
};

}  // namespace detail

// Parses {"k": "v", "n": 3, "b": true}; nullopt for anything else.
inline std::optional<JsonObject> parse_flat_object(std::string_view text) {
  detail::Reader r{text};
  if (!r.eat('{')) return std::nullopt;
  JsonObject out;
  if (r.eat('}')) return out;
  do {
    auto key = r.string();
    if (!key || !r.eat(':')) return std::nullopt;
    auto value = r.scalar();
    if (!value) return std::nullopt;
    out[*key] = *value;
  } while (r.eat(','));
  if (!r.eat('}')) return std::nullopt;
  r.skip_space();
  if (r.i != text.size()) return std::nullopt;
  return out;
}

// "text" with JSON escapes, quotes included.
inline std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace examples
