// Runs every CppUTest group linked into a suite binary.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

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
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
