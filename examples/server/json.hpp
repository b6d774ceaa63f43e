#pragma once
// Just enough JSON for the examples' protocols: flat objects whose values
// are strings, numbers or booleans in, and building objects out. Not a
// general JSON library (the examples need nothing more).

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace examples {

// A flat JSON object: keys to their raw scalar values (strings unescaped).
using JsonObject = std::map<std::string, std::string, std::less<>>;

// Parses {"k": "v", "n": 3, "b": true}; nullopt for anything else.
std::optional<JsonObject> parse_flat_object(std::string_view text);

// "text" with JSON escapes, quotes included.
std::string quote(std::string_view text);

}  // namespace examples
