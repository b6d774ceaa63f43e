#pragma once
// The one Lua script behind RedisDirectory: every directory operation is one
// run of it, so each is one atomic server-side step. ARGV[1] names the
// operation; the layout of keys and records is in cluster/redis_directory.hpp.
//
// Operations, with P the key prefix and SEP the byte 0x1f:
//   join     KEYS = P incarnation, P lease:<id>, P nodes
//            ARGV = "join", id, ttl_ms, lease record without its incarnation
//            -> the new incarnation (a string)
//   renew    KEYS = P lease:<id>, P nodes
//            ARGV = "renew", id, incarnation, ttl_ms, lease record without incarnation
//            -> {"ok"} | {"lost", held} (held: the lease's incarnation, "" if none)
//               | {"corrupt", record}
//   leave    KEYS = P lease:<id>, P nodes;  ARGV = "leave", id, incarnation  -> 1
//   nodes    KEYS = P nodes;  ARGV = "nodes", P lease:
//            -> {id, lease record, ...} of the live ones; SREMs the others
//   claim    KEYS = P lease:<id>, P owner:<name>, P fence:<name>
//            ARGV = "claim", id, incarnation, P lease:
//            -> {"mine", id, incarnation, fence} | {"owned", node, incarnation, fence}
//               | {"lost", held} | {"corrupt", what, record}
//   lookup   KEYS = P owner:<name>;  ARGV = "lookup", P lease:
//            -> {"none"} | {"owned", node, incarnation, fence} | {"corrupt", what, record}
//   release  KEYS = P owner:<name>;  ARGV = "release", owner record  -> 1 | 0
//
// Counters are read back with GET after INCR, so a fence or incarnation
// travels as the exact decimal string Redis keeps (a Lua number would round
// past 2^53). It reads lease keys it is not given in KEYS (the owner's, found
// in the owner record; every member's in nodes): fine on one Redis server,
// not on a Redis Cluster.

#include <string>
#include <string_view>

namespace troupe::cluster::detail {

extern const std::string_view directory_script;

// The script's SHA-1 in hex, as EVALSHA wants it; computed once.
const std::string& directory_script_sha();

}  // namespace troupe::cluster::detail
