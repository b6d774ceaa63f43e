#pragma once
// Child entries: code a test runs in a fresh process of its own suite binary
// (to SIGKILL it, say). The test re-executes /proc/self/exe with
// TROUPE_TEST_CHILD=<name> in the environment; main() then runs the entry
// registered under that name instead of the tests and exits with its result.
// Registering at namespace scope in the test's .cpp is enough:
//   const troupe::test::ChildEntry writer("sigkill-writer", &write_until_killed);

#include <map>
#include <string>

namespace troupe::test {

inline constexpr const char* child_entry_variable = "TROUPE_TEST_CHILD";

inline std::map<std::string, int (*)()>& child_entries() {
  static std::map<std::string, int (*)()> entries;
  return entries;
}

struct ChildEntry {
  ChildEntry(const char* name, int (*run)()) { child_entries()[name] = run; }
};

}  // namespace troupe::test
