// Autobahn case list, sections 1 (framing) and 2 (pings and pongs), against
// the echo route: every size class of a frame's length field, and every ping
// answered with its own payload, in order.

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

std::vector<Case> section1() {
  std::vector<Case> cases;
  const std::size_t sizes[] = {0, 125, 126, 127, 128, 65535, 65536};
  for (int binary_kind = 0; binary_kind < 2; ++binary_kind) {
    const std::string group = binary_kind ? "1.2." : "1.1.";
    const std::uint8_t op = binary_kind ? opcode::binary : opcode::text;
    const char fill = binary_kind ? '\xfe' : '*';
    int n = 1;
    for (std::size_t size : sizes) {
      const std::string payload(size, fill);
      cases.push_back(echo_case(group + std::to_string(n++), frame(op, payload), {{op, payload}}));
    }
    const std::string payload(65536, fill);  // 1.x.8: sent in chops of 997 bytes
    cases.push_back(echo_case(group + std::to_string(n), frame(op, payload), {{op, payload}}, 997));
  }
  return cases;
}

std::vector<Case> section2() {
  const std::string binary_payload("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
  const std::string max_payload(125, '\xfe');
  std::vector<Case> cases = {
      echo_case("2.1", frame(opcode::ping, ""), {pong("")}),
      echo_case("2.2", frame(opcode::ping, "Hello, world!"), {pong("Hello, world!")}),
      echo_case("2.3", frame(opcode::ping, binary_payload), {pong(binary_payload)}),
      echo_case("2.4", frame(opcode::ping, max_payload), {pong(max_payload)}),
      // Control frames carry at most 125 bytes. lws 4.1.6 drops TCP without
      // a close frame there, which Autobahn accepts (docs/net.md).
      fail_case("2.5", frame(opcode::ping, std::string(126, '\xfe'))),
      echo_case("2.6", frame(opcode::ping, max_payload), {pong(max_payload)}, 1),
      // Unsolicited pongs are ignored.
      echo_case("2.7", frame(opcode::pong, ""), {}),
      echo_case("2.8", frame(opcode::pong, "unsolicited pong payload"), {}),
      echo_case(
          "2.9",
          frame(opcode::pong, "unsolicited pong payload") + frame(opcode::ping, "ping payload"),
          {pong("ping payload")}),
  };
  cases[4].drop_allowed = true;  // 2.5
  return cases;
}

// 2.10 and 2.11: ten pings in one write, then octet by octet.
std::string ping_burst() {
  std::string pings;
  for (int i = 0; i < 10; ++i) pings += frame(opcode::ping, "payload-" + std::to_string(i));
  return pings;
}

// Reads what answers a burst of pings, then the close: the pongs, in the
// pings' order, each with its ping's payload. Returns their payload indexes.
std::vector<int> pongs_for_burst(std::uint16_t port, const char* id, std::size_t chop) {
  RawClient raw;
  std::vector<int> answered;
  if (!raw.connect(port) || raw.upgrade(std::string("/echo/case-") + id) != 101) return {-1};
  raw.send_chopped(ping_burst(), chop);
  // The first pong is due before the close is sent, so none can be lost to it.
  auto got = raw.read_frame(3s);
  raw.send_frame(opcode::close, close_payload(1000));
  for (; got && got->opcode == opcode::pong; got = raw.read_frame(3s)) {
    const std::string prefix = "payload-";
    if (got->payload.compare(0, prefix.size(), prefix) != 0) return {-1};
    answered.push_back(std::stoi(got->payload.substr(prefix.size())));
  }
  if (!got || got->opcode != opcode::close || got->close_code() != 1000 || !raw.wait_eof(2s))
    return {-1};
  return answered;
}

void check_burst_answered_in_order(const std::vector<int>& answered) {
  CHECK_FALSE(answered.empty());
  CHECK_EQUAL(0, answered.front());  // lws keeps the first pending ping
  for (std::size_t i = 1; i < answered.size(); ++i) CHECK_TRUE(answered[i] > answered[i - 1]);
}

}  // namespace

TEST_GROUP(ConformanceFraming) {
  Watchdog watchdog{60s};
};

TEST(ConformanceFraming, Section1TextAndBinaryOfEveryLengthEncodingAreEchoed) {
  TestServer server(quick_options());
  const auto cases = section1();
  CHECK_EQUAL(16u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}

TEST(ConformanceFraming, Section2PingsAnsweredWithTheirPayloadPongsIgnored) {
  TestServer server(quick_options());
  const auto cases = section2();
  CHECK_EQUAL(9u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}

// 2.10 and 2.11 as RFC 6455 section 5.5.3 allows, not as Autobahn asks (a
// pong for each of the ten pings): lws 4.1.6 answers pings itself, keeps one
// pending pong and drops the pings it parses before writing it, and no
// callback sees them (docs/net.md, "Conformance").
TEST(ConformanceFraming, Section2PingBurstsAnsweredInOrderFromTheFirst) {
  TestServer server(quick_options());
  check_burst_answered_in_order(pongs_for_burst(server.port(), "2.10", 0));
  check_burst_answered_in_order(pongs_for_burst(server.port(), "2.11", 1));
  CHECK_TRUE(server.stop());
}
