// Runs every CppUTest group linked into a suite binary.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

#include <cstdio>
#include <cstdlib>

#include "test/support/child_entry.hpp"

namespace {

// Coroutine frames, pools and scheduler threads allocate outside any one
// test; leaks are ASan/LSan's job (make asan), not CppUTest's counters.
// CppUTest's counting operator new must be off before any static object of
// the library allocates, or a later delete of that object would go to the
// other allocator: hence a constructor that runs before all the others.
struct LeakCountingOff {
  LeakCountingOff() { MemoryLeakWarningPlugin::turnOffNewDeleteOverloads(); }
};
__attribute__((init_priority(101))) LeakCountingOff leak_counting_off;

}  // namespace

int main(int argc, char** argv) {
  if (const char* name = std::getenv(troupe::test::child_entry_variable)) {
    auto& entries = troupe::test::child_entries();
    auto it = entries.find(name);
    if (it != entries.end()) return it->second();
    std::fprintf(stderr, "no child entry named '%s' in this suite\n", name);
    return 127;
  }
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
