// The registry's open-addressing name table: inserts, finds, erases with
// tombstones, growth, and names longer than the inline buffer.
#include "runtime/detail/name_table.hpp"

#include <CppUTest/TestHarness.h>

#include <functional>
#include <string>

using troupe::Pid;
using troupe::detail::NameTable;

namespace {
std::uint64_t h(const std::string& s) {
  return std::hash<std::string>{}(s);
}
}  // namespace

TEST_GROUP(NameTable){};

TEST(NameTable, InsertFindEraseAcrossGrowth) {
  NameTable t;
  for (std::uint32_t i = 1; i <= 10000; ++i) {
    std::string k = "n" + std::to_string(i);
    auto [slot, inserted] = t.insert(k, h(k), Pid(i, 1));
    CHECK(inserted);
    CHECK(*slot == Pid(i, 1));
  }
  LONGS_EQUAL(10000, t.size());
  for (std::uint32_t i = 1; i <= 10000; i += 2) {
    std::string k = "n" + std::to_string(i);
    CHECK(t.erase(k, h(k)));
    CHECK_FALSE(t.erase(k, h(k)));
  }
  LONGS_EQUAL(5000, t.size());
  for (std::uint32_t i = 1; i <= 10000; ++i) {
    std::string k = "n" + std::to_string(i);
    const Pid* found = t.find(k, h(k));
    if (i % 2) {
      CHECK(found == nullptr);
    } else {
      CHECK(found && *found == Pid(i, 1));
    }
  }
  // Tombstones are reused and rehashed away; nothing is lost meanwhile.
  for (int round = 0; round < 20; ++round)
    for (std::uint32_t i = 1; i <= 10000; i += 2) {
      std::string k = "n" + std::to_string(i);
      CHECK(t.insert(k, h(k), Pid(i, 2)).second);
      CHECK(t.erase(k, h(k)));
    }
  LONGS_EQUAL(5000, t.size());
}

TEST(NameTable, DuplicateInsertKeepsTheHolder) {
  NameTable t;
  std::string k = "a-long-name-beyond-the-small-string-buffer/rooms/lobby";
  CHECK(t.insert(k, h(k), Pid(1, 1)).second);
  auto [slot, inserted] = t.insert(k, h(k), Pid(2, 1));
  CHECK_FALSE(inserted);
  CHECK(*slot == Pid(1, 1));
  int seen = 0;
  t.for_each([&](std::string_view name, Pid) { seen += name == k; });
  LONGS_EQUAL(1, seen);
}
