// Runs every CppUTest group linked into a suite binary.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  // Coroutine frames, pools and scheduler threads allocate outside any one
  // test; leaks are ASan/LSan's job (make asan), not CppUTest's counters.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
