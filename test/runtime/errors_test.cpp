// Every error type's text comes from a free to_string beside it (docs/runtime.md, "Errors").
#include <CppUTest/TestHarness.h>

#include <stdexcept>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

TEST_GROUP(Errors){};

TEST(Errors, CallErrorNamesItsKindAndItsData) {
  STRCMP_EQUAL("timeout", to_string(CallError{CallError::Kind::timeout}).c_str());
  STRCMP_EQUAL("exit: {error, boom}",
               to_string(CallError{CallError::Kind::exit, ExitReason::error("boom")}).c_str());
  STRCMP_EQUAL("bad_reply: int",
               to_string(CallError{CallError::Kind::bad_reply, {}, "int"}).c_str());
  STRCMP_EQUAL("mailbox_full", to_string(CallError::Kind::mailbox_full));
}

TEST(Errors, RegisterErrorNamesItsKindAndTheHolder) {
  STRCMP_EQUAL("name taken by <0.1.2>",
               to_string(RegisterError{RegisterError::Kind::taken, Pid(1, 2)}).c_str());
  STRCMP_EQUAL("invalid", to_string(RegisterError::Kind::invalid));
}

TEST(Errors, ExitReasonIsItsKindOrKindAndDetail) {
  STRCMP_EQUAL("normal", to_string(normal).c_str());
  STRCMP_EQUAL("{shutdown, bye}", to_string(ExitReason::shutdown_with("bye")).c_str());
  STRCMP_EQUAL("killed", to_string(ExitReason::Kind::killed));
}

TEST(Errors, ResultValueOfAFailureThrowsWithTheErrorsText) {
  Result<int, CallError> r = unexpected(CallError{CallError::Kind::noproc});
  Result<void, RegisterError> v = unexpected(RegisterError{RegisterError::Kind::noproc});
  std::string what, what_void;
  try {
    (void)r.value();
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  try {
    v.value();
  } catch (const std::runtime_error& e) {
    what_void = e.what();
  }
  STRCMP_EQUAL("Result holds an error: noproc", what.c_str());
  STRCMP_EQUAL("Result holds an error: noproc", what_void.c_str());
}
