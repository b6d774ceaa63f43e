#pragma once
// What the examples' protocols share: a request is a JSON object with a
// "type" and an optional client "id"; the answers are an ack naming that id
// once the request is durable, or an error frame (naming it too, when
// given). RecentIds, kept in a session's persisted state, makes a request
// retried with the same id be applied once and acknowledged again.

#include <algorithm>
#include <cstddef>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json.hpp"

namespace examples {

inline constexpr std::size_t max_id_bytes = 64;

struct Request {
  Json body;
  std::string type;
  std::optional<std::string> id;
};

// The request in `text`; nullopt (with `why` set) if it is not one: not a
// JSON object (see json.hpp), no string "type", or an "id" that is not a
// string of 1 to 64 bytes.
inline std::optional<Request> parse_request(std::string_view text, std::string& why) {
  auto body = parse_object(text);
  auto type = body ? string_at(*body, "type") : std::nullopt;
  if (!type) {
    why = "expected a JSON object (valid UTF-8) with a type";
    return std::nullopt;
  }
  Request r{std::move(*body), std::move(*type), std::nullopt};
  if (r.body.contains("id")) {
    r.id = string_at(r.body, "id");
    if (!r.id || r.id->empty() || r.id->size() > max_id_bytes) {
      why = "id must be a string of 1 to 64 bytes";
      return std::nullopt;
    }
  }
  return r;
}

inline std::string error_frame(std::string_view why, const std::optional<std::string>& id = {}) {
  Json j{{"type", "error"}, {"error", why}};
  if (id) j["id"] = *id;
  return to_text(j);
}

inline std::string ack_frame(const std::string& id) {
  return to_text(Json{{"type", "ack"}, {"id", id}});
}

// The error frame for a request whose commit failed: it was not applied.
inline std::string not_saved_frame(const std::string& cause, const std::optional<std::string>& id) {
  return error_frame("not saved, nothing changed (retry): " + cause, id);
}

// The ids of the latest requests applied, oldest first, at most `capacity`
// of them (so the state stays small): a retry comes soon after its original.
struct RecentIds {
  static constexpr std::size_t capacity = 256;
  std::vector<std::string> ids;

  bool contains(std::string_view id) const {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  void add(std::string id) {
    if (ids.size() >= capacity) ids.erase(ids.begin(), ids.begin() + (ids.size() - capacity + 1));
    ids.push_back(std::move(id));
  }
  MSGPACK_DEFINE(ids);
};

}  // namespace examples
