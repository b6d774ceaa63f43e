#pragma once
// troupe::testing with CppUTest: include this in the test binary, and a
// failed expectation fails the running test (with the seed in its message)
// instead of ending the program with an uncaught exception.

#include <CppUTest/TestHarness.h>

#include <string>

#include "testing/test_runtime.hpp"

namespace troupe::testing {

inline void report_to_cpputest(const std::string& what) {
  UtestShell::getCurrent()->fail(what.c_str(), "troupe::testing", 0);
}

inline const bool cpputest_reporting = [] {
  set_failure_handler(&report_to_cpputest);
  return true;
}();

}  // namespace troupe::testing
