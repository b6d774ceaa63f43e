#include "testing/session_harness.hpp"

#include <CppUTest/TestHarness.h>

#include "testing/cpputest.hpp"

using namespace troupe;
using namespace troupe::testing;

namespace {
struct Echo : Session<Echo> {
  void on_message(Connection& c, std::string_view text, MessageKind) { c.send(text); }
};
}  // namespace

TEST_GROUP(SessionHarness){};

TEST(SessionHarness, Smoke) {
  TestRuntime t;
  SessionHarness<Echo> h(t, "echo/a");
  auto& c = h.connect();
  c.send("hi");
  c.expect_frame("hi");
  CHECK_TRUE(h.alive());
}
