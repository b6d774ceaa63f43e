#include "persist/store.hpp"

#include "persist/detail/validate.hpp"

namespace troupe {

const char* to_string(StoreErrc code) {
  switch (code) {
    case StoreErrc::invalid_argument:
      return "invalid argument";
    case StoreErrc::conflict:
      return "conflict";
    case StoreErrc::unavailable:
      return "unavailable";
    case StoreErrc::io_error:
      return "I/O error";
    case StoreErrc::corrupt:
      return "corrupt data";
    case StoreErrc::closed:
      return "store closed";
    case StoreErrc::fenced:
      return "fenced";
  }
  return "unknown store error";
}

std::optional<StoreError> Store::key_error(std::string_view key) const {
  return detail::check_key(key);
}

std::string to_string(const StoreError& error) {
  return std::string(to_string(error.code)) + ": " + error.message;
}

std::string conflict_message(const std::string& key, Revision written, Revision stored) {
  return "compare-and-put of key '" + detail::printable_key(key) + "' at revision " +
         std::to_string(written) + " expected stored revision " + std::to_string(written - 1) +
         ", found " + std::to_string(stored);
}

StoreError fenced_error(const std::string& key, std::uint64_t stored, std::uint64_t token) {
  return {StoreErrc::fenced, "'" + detail::printable_key(key) + "' is at " +
                                 std::to_string(stored) + ", this writer holds " +
                                 std::to_string(token) + " (a newer owner claimed the name)"};
}

namespace detail {

std::string printable_key(std::string_view key) {
  constexpr std::size_t shown = 200;  // enough to recognise a key in a log line
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < shown; ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (key.size() > shown) out += "...(" + std::to_string(key.size()) + " bytes)";
  return out;
}

std::optional<StoreError> check_key(std::string_view key) {
  if (key.empty()) return StoreError{StoreErrc::invalid_argument, "empty key"};
  return std::nullopt;
}

std::optional<StoreError> check_batch(const std::vector<WriteOp>& ops) {
  std::set<std::string_view> fences;
  for (const auto& op : ops) {
    if (auto e = check_key(op.key)) return e;
    if (op.kind == WriteOp::Kind::fence) {
      if (!fences.insert(op.key).second) {
        return StoreError{StoreErrc::invalid_argument,
                          "fence key '" + printable_key(op.key) + "' appears twice in one batch"};
      }
    } else if (op.revision && *op.revision == 0) {
      return StoreError{StoreErrc::invalid_argument,
                        "conditional put of key '" + printable_key(op.key) + "' at revision 0"};
    }
  }
  // A fence is decided against the key's value before the batch: a write of
  // the same key in the batch would make that ambiguous.
  if (!fences.empty()) {
    for (const auto& op : ops) {
      if (op.kind != WriteOp::Kind::fence && fences.count(op.key)) {
        return StoreError{StoreErrc::invalid_argument,
                          "fence key '" + printable_key(op.key) +
                              "' is also written by another op of the same batch"};
      }
    }
  }
  return std::nullopt;
}

std::optional<StoreError> check_cas_many(const std::vector<CasWrite>& writes) {
  std::set<std::string_view> seen;
  for (const auto& w : writes) {
    if (auto e = check_key(w.key)) return e;
    if (w.revision == 0) {
      return StoreError{StoreErrc::invalid_argument,
                        "compare-and-put of key '" + printable_key(w.key) + "' at revision 0"};
    }
    if (!seen.insert(w.key).second) {
      return StoreError{
          StoreErrc::invalid_argument,
          "key '" + printable_key(w.key) + "' appears twice in one compare_and_put_many"};
    }
  }
  return std::nullopt;
}

StoreError batch_conflict(const std::vector<std::string>& messages) {
  std::string text = "batch not applied: ";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) text += "; ";
    text += messages[i];
  }
  return {StoreErrc::conflict, std::move(text)};
}

}  // namespace detail
}  // namespace troupe
