// Autobahn case list, sections 3 (reserved bits) and 4 (reserved opcodes):
// the server fails the connection with 1002, answers nothing sent after the
// bad frame, and closes TCP at once instead of waiting for a close answer it
// could no longer parse.

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

const std::string hello = "Hello, world!";

// A good text frame, the bad one, then a ping that must not be answered.
Case bad_after_good(std::string id, const std::string& bad, std::size_t chop = 0) {
  return fail_case(std::move(id), frame(opcode::text, hello) + bad + frame(opcode::ping, ""),
                   {text(hello)}, 1002, chop);
}

std::vector<Case> section3() {
  return {
      fail_case("3.1", frame(opcode::text, hello, true, 0x10)),
      bad_after_good("3.2", frame(opcode::text, hello, true, 0x20)),
      bad_after_good("3.3", frame(opcode::text, hello, true, 0x30)),
      bad_after_good("3.4", frame(opcode::text, hello, true, 0x40), 1),
      fail_case("3.5", frame(opcode::binary, std::string("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8),
                             true, 0x50)),
      fail_case("3.6", frame(opcode::ping, hello, true, 0x60)),
      fail_case("3.7", frame(opcode::close, "", true, 0x70)),
  };
}

std::vector<Case> section4() {
  std::vector<Case> cases;
  const std::string payload = "reserved opcode payload";
  for (int control = 0; control < 2; ++control) {
    const std::string group = control ? "4.2." : "4.1.";
    const std::uint8_t base = control ? 11 : 3;  // 3-7 data, 11-15 control
    cases.push_back(fail_case(group + "1", frame(base, "")));
    cases.push_back(fail_case(group + "2", frame(base + 1, payload)));
    cases.push_back(bad_after_good(group + "3", frame(base + 2, "")));
    cases.push_back(bad_after_good(group + "4", frame(base + 3, payload)));
    cases.push_back(bad_after_good(group + "5", frame(base + 4, payload), 1));
  }
  return cases;
}

}  // namespace

TEST_GROUP(ConformanceReserved) {
  Watchdog watchdog{60s};
};

TEST(ConformanceReserved, Section3ReservedBitsFailTheConnectionAndCloseTcp) {
  TestServer server(quick_options());
  const auto cases = section3();
  CHECK_EQUAL(7u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}

TEST(ConformanceReserved, Section4ReservedOpcodesFailTheConnectionAndCloseTcp) {
  TestServer server(quick_options());
  const auto cases = section4();
  CHECK_EQUAL(10u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}
