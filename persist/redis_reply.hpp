#pragma once
// RedisReply: one reply of RedisStore::command, owned (a copy of hiredis's
// reply, which dies when its callback returns). The six RESP2 types; the
// store speaks RESP2 (no HELLO 3), so nothing else arrives.
//
// A value type: any thread may hold and read one.

#include <cstdint>
#include <string>
#include <vector>

namespace troupe {

struct RedisReply {
  enum class Type { nil, integer, string, array, status, error };
  Type type = Type::nil;
  std::int64_t integer = 0;          // integer
  std::string str;                   // string, status ("OK"), error ("ERR ...")
  std::vector<RedisReply> elements;  // array

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
};

}  // namespace troupe
