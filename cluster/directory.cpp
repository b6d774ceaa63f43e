#include "cluster/directory.hpp"

#include "persist/detail/validate.hpp"

namespace troupe::cluster {

Directory::~Directory() = default;

std::optional<StoreError> node_id_error(std::string_view id) {
  if (id.empty() || id.size() > max_node_id_size) {
    return StoreError{StoreErrc::invalid_argument, "a node id must be 1 to " +
                                                       std::to_string(max_node_id_size) +
                                                       " bytes, not " + std::to_string(id.size())};
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) {
      return StoreError{StoreErrc::invalid_argument, "a node id may hold only [A-Za-z0-9_.-]: '" +
                                                         troupe::detail::printable_key(id) + "'"};
    }
  }
  return std::nullopt;
}

std::optional<StoreError> name_error(std::string_view name) {
  if (name.empty() || name.size() > max_name_size) {
    return StoreError{StoreErrc::invalid_argument,
                      "a cluster name must be 1 to " + std::to_string(max_name_size) +
                          " bytes, not " + std::to_string(name.size()) +
                          (name.empty() ? "" : ": '" + troupe::detail::printable_key(name) + "'")};
  }
  return std::nullopt;
}

}  // namespace troupe::cluster
