#pragma once
// PageBuilder: the paging rule of Store::list in one place. Feed it keys in
// ascending order starting after the cursor; it keeps those with the prefix,
// stops after limit, and sets next_cursor only when a further matching key
// exists (so the last page says it is the last).

#include <string>
#include <string_view>

#include "persist/store.hpp"

namespace troupe::detail {

class PageBuilder {
 public:
  PageBuilder(std::string_view prefix, std::size_t limit) : prefix_(prefix), limit_(limit) {}

  // Whether the caller should go on feeding: false once key is past the
  // prefix range or the page is full and a further match was seen.
  bool wants(std::string_view key) {
    if (key.substr(0, prefix_.size()) != prefix_) return false;
    if (page_.items.size() == limit_) {
      page_.next_cursor = page_.items.back().key;
      return false;
    }
    return true;
  }
  void add(Item item) { page_.items.push_back(std::move(item)); }
  Page finish() && { return std::move(page_); }

 private:
  std::string prefix_;
  std::size_t limit_;
  Page page_;
};

}  // namespace troupe::detail
