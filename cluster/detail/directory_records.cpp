#include "cluster/detail/directory_records.hpp"

#include <charconv>
#include <vector>

#include "persist/detail/validate.hpp"

namespace troupe::cluster::detail {

namespace {

std::vector<std::string_view> split(std::string_view record) {
  std::vector<std::string_view> fields;
  for (;;) {
    auto at = record.find(record_separator);
    fields.push_back(record.substr(0, at));
    if (at == std::string_view::npos) return fields;
    record.remove_prefix(at + 1);
  }
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  auto n = parse_decimal(text);
  if (!n || *n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

}  // namespace

std::optional<StoreError> host_error(std::string_view host) {
  if (host.empty() || host.size() > 255) {
    return StoreError{StoreErrc::invalid_argument,
                      "a node's host must be 1 to 255 bytes, not " + std::to_string(host.size())};
  }
  for (char c : host) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) {
      return StoreError{StoreErrc::invalid_argument,
                        "a node's host must be printable ASCII without spaces: '" +
                            troupe::detail::printable_key(host) + "'"};
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

std::string lease_tail(const NodeInfo& node) {
  std::string out;
  out += record_separator;
  out += node.host;
  out += record_separator;
  out += std::to_string(node.ws_port);
  out += record_separator;
  out += std::to_string(node.peer_port);
  out += record_separator;
  out += node.draining ? '1' : '0';
  return out;
}

std::optional<NodeInfo> parse_lease(std::string id, std::string_view record) {
  auto f = split(record);
  if (f.size() != 5) return std::nullopt;
  auto incarnation = parse_decimal(f[0]);
  auto ws = parse_port(f[2]);
  auto peer = parse_port(f[3]);
  if (!incarnation || host_error(f[1]) || !ws || !peer || (f[4] != "0" && f[4] != "1")) {
    return std::nullopt;
  }
  return NodeInfo{.id = std::move(id),
                  .incarnation = *incarnation,
                  .host = std::string(f[1]),
                  .ws_port = *ws,
                  .peer_port = *peer,
                  .draining = f[4] == "1"};
}

std::string owner_record(const Owner& owner) {
  std::string out = owner.node;
  out += record_separator;
  out += std::to_string(owner.incarnation);
  out += record_separator;
  out += std::to_string(owner.fence);
  return out;
}

std::optional<Owner> parse_owner(std::string_view record) {
  auto f = split(record);
  if (f.size() != 3 || node_id_error(f[0])) return std::nullopt;
  auto incarnation = parse_decimal(f[1]);
  auto fence = parse_decimal(f[2]);
  if (!incarnation || !fence) return std::nullopt;
  return Owner{std::string(f[0]), *incarnation, *fence};
}

}  // namespace troupe::cluster::detail
