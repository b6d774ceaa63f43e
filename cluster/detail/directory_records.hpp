#pragma once
// The records RedisDirectory keeps in Redis, written and read here only
// (their layout is documented in cluster/redis_directory.hpp). Fields are
// separated by the byte 0x1f, which no field can hold: node ids are
// [A-Za-z0-9_.-], hosts printable ASCII without spaces, the rest decimals.
// Names are never inside a record (only in key names), so any bytes are fine.
// Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/directory.hpp"

namespace troupe::cluster::detail {

constexpr char record_separator = '\x1f';

// nullopt if `host` is 1 to 255 bytes of printable ASCII without spaces.
std::optional<StoreError> host_error(std::string_view host);

// The lease record without its leading incarnation:
// SEP host SEP ws_port SEP peer_port SEP draining ("0" or "1").
std::string lease_tail(const NodeInfo& node);
// A whole lease record "incarnation SEP host SEP ws SEP peer SEP draining",
// read back into a NodeInfo with `id`; nullopt if it does not parse.
std::optional<NodeInfo> parse_lease(std::string id, std::string_view record);

// "node SEP incarnation SEP fence".
std::string owner_record(const Owner& owner);
std::optional<Owner> parse_owner(std::string_view record);

// A decimal without sign or leading junk that fits 64 bits; nullopt otherwise.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

}  // namespace troupe::cluster::detail
