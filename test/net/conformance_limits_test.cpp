// Autobahn case list, sections 9 (large and many messages) and 10 (a message
// in many frames). Section 9 measures speed in Autobahn; here it checks that
// large, finely fragmented and finely chopped messages arrive whole and are
// echoed byte for byte. Sizes are scaled to the default max_message_bytes
// (1 MiB) so that make test stays quick: 9.1/9.2 send 4 KiB to 1 MiB instead
// of 64 KiB to 16 MiB; 9.3/9.4 send 1 MiB instead of 4 MiB, in fragments a
// quarter of Autobahn's (the same number of fragments); 9.5-9.8 and 10.1 are
// Autobahn's own sizes and counts.

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

constexpr std::uint8_t cont = opcode::continuation;

// `size` bytes of a repeating pattern (valid UTF-8 when `pattern` is).
std::string filled(std::size_t size, std::string_view pattern) {
  std::string out;
  out.reserve(size);
  while (out.size() < size) out.append(pattern.substr(0, size - out.size()));
  return out;
}

std::string fragmented(std::uint8_t op, const std::string& payload, std::size_t fragment) {
  std::string wire;
  for (std::size_t at = 0; at < payload.size(); at += fragment) {
    const bool last = at + fragment >= payload.size();
    wire += frame(at == 0 ? op : cont, std::string_view(payload).substr(at, fragment), last);
  }
  return wire;
}

std::vector<Case> section9() {
  std::vector<Case> cases;
  const std::string text_pattern = "BAsd7&jh23";
  const std::string binary_pattern("\x00\xfe\x23\xfa\xf0", 5);
  for (int bin = 0; bin < 2; ++bin) {
    const std::uint8_t op = bin ? opcode::binary : opcode::text;
    const std::string& pattern = bin ? binary_pattern : text_pattern;
    int n = 1;
    for (std::size_t kib : {4, 16, 64, 256, 512, 1024}) {
      const std::string payload = filled(kib * 1024, pattern);
      cases.push_back(echo_case("9." + std::to_string(1 + bin) + "." + std::to_string(n++),
                                frame(op, payload), {{op, payload}}));
    }
  }
  for (int bin = 0; bin < 2; ++bin) {
    const std::uint8_t op = bin ? opcode::binary : opcode::text;
    const std::string payload(1 << 20, bin ? '\xfe' : '*');
    int n = 1;
    for (std::size_t fragment = 16; fragment <= (1u << 20); fragment *= 4) {
      cases.push_back(echo_case("9." + std::to_string(3 + bin) + "." + std::to_string(n++),
                                fragmented(op, payload, fragment), {{op, payload}}));
    }
  }
  for (int bin = 0; bin < 2; ++bin) {
    const std::uint8_t op = bin ? opcode::binary : opcode::text;
    const std::string payload = filled(1 << 20, bin ? binary_pattern : text_pattern);
    const std::string wire = frame(op, payload);
    int n = 1;
    for (std::size_t chop = 64; chop <= 2048; chop *= 2) {
      cases.push_back(echo_case("9." + std::to_string(5 + bin) + "." + std::to_string(n++), wire,
                                {{op, payload}}, chop));
    }
  }
  // 9.7 and 9.8: 1000 round trips each, the next message sent once the last
  // one's echo came back.
  for (int bin = 0; bin < 2; ++bin) {
    const std::uint8_t op = bin ? opcode::binary : opcode::text;
    int n = 1;
    for (std::size_t size : {0, 16, 64, 256, 1024, 4096}) {
      const std::string payload(size, bin ? '\xfe' : '*');
      Case c{"9." + std::to_string(7 + bin) + "." + std::to_string(n++)};
      for (int i = 0; i < 1000; ++i) c.steps.push_back(send(frame(op, payload), {{op, payload}}));
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

}  // namespace

TEST_GROUP(ConformanceLimits) {
  Watchdog watchdog{120s};
};

TEST(ConformanceLimits, Section9LargeFragmentedAndChoppedMessagesEchoedWhole) {
  TestServer server(quick_options());
  const auto cases = section9();
  CHECK_EQUAL(54u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}

TEST(ConformanceLimits, Section10MessageIn1300ByteFramesEchoedWhole) {
  TestServer server(quick_options());
  const std::string payload(65536, '*');
  const std::string failures =
      run_cases(server.port(),
                {echo_case("10.1.1", fragmented(opcode::text, payload, 1300), {text(payload)})});
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}
