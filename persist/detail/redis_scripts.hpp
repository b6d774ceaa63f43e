#pragma once
// The Lua scripts RedisStore runs server-side, each one atomic step.
//
// Layout under the store's key prefix P:
//   P v:<key>   the value (a string)
//   P r:<key>   its revision (a decimal string)
//   P index     a sorted set of every key (all scores 0), so that list()
//               pages in byte order with ZRANGEBYLEX instead of SCAN
//
// apply_script — puts, conditional puts, dels and fences.
//   KEYS[1] = P index; op i: KEYS[2i] = P v:<key>, KEYS[2i+1] = P r:<key>
//   ARGV[1] = "all" (atomic batch: apply every op or none) or "each"
//             (independent conditional puts only, distinct keys)
//   ARGV[2] = length of "P v:" (to recover keys for the index)
//   op i: ARGV[3i] = kind ("p" put, "c" conditional put, "d" del, "f"
//         fence, "all" mode only), ARGV[3i+1] = value (the token's decimal
//         text for "f"), ARGV[3i+2] = revision to write ("c" only)
//   returns {applied (1/0), then per op: ok (1/0), n} where n is the
//   revision written (put), the stored revision (failed "c"), or whether
//   the key existed (del). A fence's ok is 1 (accepted), 0 (fenced) or -1
//   (the value is not a token) and its n is the stored token as text (the
//   first 64 bytes of the value for -1); its check is one GET of the fence
//   key, in the same script, so it is atomic with the batch. In "all" mode
//   applied is 0 if any op failed.
//   Revisions and existence checks read every revision key with one MGET
//   and writes go out as one MSET, so fencing N keys costs a few calls, not
//   N: that is what makes fenced snapshot writes cheap.
//
// list_script — one page.
//   KEYS[1] = P index; ARGV = min, max (ZRANGEBYLEX bounds), count,
//   "P v:", "P r:"; returns {key, value, revision, ...}. It reads value keys
//   it is not given in KEYS: fine on one Redis server, not on a cluster.

#include <string_view>

namespace troupe::detail {

extern const std::string_view apply_script;
extern const std::string_view list_script;

}  // namespace troupe::detail
