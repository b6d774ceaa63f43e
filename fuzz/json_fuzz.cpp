// Fuzzes the examples' JSON handling (examples/server/json.hpp and
// protocol.hpp): what every chat, counter and game frame goes through.
//
// Properties:
//   - parse_request never throws; a request it accepts has a body that is a
//     JSON object whose "type" is that string, and an id (when present) of
//     1 to 64 bytes equal to the body's "id";
//   - a parsed object's strings are valid UTF-8 (the parser refuses lone
//     surrogates and bad bytes), to_text of it is valid UTF-8 and parses back
//     to an equal object;
//   - error_frame and ack_frame, fed arbitrary bytes (as a bug elsewhere
//     might), still give valid UTF-8 JSON objects of the right type;
//   - int64_at gives a value only for integers that fit in 64 signed bits.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "examples/server/protocol.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using examples::Json;

void check_strings_valid(const Json& j) {
  if (j.is_string()) {
    FUZZ_CHECK(fuzz::valid_utf8(j.get_ref<const std::string&>()));
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      FUZZ_CHECK(fuzz::valid_utf8(key));
      check_strings_valid(value);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) check_strings_valid(value);
  }
}

void check_request(std::string_view text) {
  std::string why;
  const auto request = examples::parse_request(text, why);
  const auto object = examples::parse_object(text);
  if (!object) {
    FUZZ_CHECK(!request && !why.empty());
    return;
  }
  FUZZ_CHECK(object->is_object());
  check_strings_valid(*object);
  const std::string dumped = examples::to_text(*object);
  FUZZ_CHECK(fuzz::valid_utf8(dumped));
  const auto again = examples::parse_object(dumped);
  FUZZ_CHECK(again && *again == *object);
  FUZZ_CHECK(examples::to_text(*again) == dumped);

  const auto count = examples::int64_at(*object, "count", -7);
  const auto it = object->find("count");
  if (it == object->end()) {
    FUZZ_CHECK(count && *count == -7);
  } else if (count) {
    FUZZ_CHECK(it->is_number_integer());
    FUZZ_CHECK(it->is_number_unsigned() ? it->get<std::uint64_t>() == std::uint64_t(*count)
                                        : it->get<std::int64_t>() == *count);
  } else {
    FUZZ_CHECK(!it->is_number_integer() ||
               (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX));
  }

  if (!request) {
    FUZZ_CHECK(!why.empty());
    const auto type = object->find("type");
    const auto id = object->find("id");
    FUZZ_CHECK(type == object->end() || !type->is_string() ||
               (id != object->end() &&
                (!id->is_string() || id->get_ref<const std::string&>().empty() ||
                 id->get_ref<const std::string&>().size() > examples::max_id_bytes)));
    return;
  }
  FUZZ_CHECK(request->body == *object);
  FUZZ_CHECK(request->body.at("type").is_string() && request->body.at("type") == request->type);
  if (request->id) {
    FUZZ_CHECK(!request->id->empty() && request->id->size() <= examples::max_id_bytes);
    FUZZ_CHECK(request->body.at("id") == *request->id);
    const auto ack = examples::parse_object(examples::ack_frame(*request->id));
    FUZZ_CHECK(ack && ack->at("type") == "ack" && ack->at("id") == *request->id);
  } else {
    FUZZ_CHECK(!request->body.contains("id"));
  }
}

void check_frames(std::string_view bytes) {
  // Arbitrary bytes where a frame expects text: replaced, never thrown on.
  const std::string raw(bytes);
  const std::string error = examples::error_frame(raw, raw);
  FUZZ_CHECK(fuzz::valid_utf8(error));
  const auto parsed = examples::parse_object(error);
  FUZZ_CHECK(parsed && parsed->at("type") == "error" && parsed->at("error").is_string() &&
             parsed->at("id").is_string());
  if (fuzz::valid_utf8(raw)) FUZZ_CHECK(parsed->at("error") == raw && parsed->at("id") == raw);
  const auto ack = examples::parse_object(examples::ack_frame(raw));
  FUZZ_CHECK(ack && ack->at("type") == "ack");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_request(text);
  check_frames(text);
  return 0;
}
