// Autobahn case list, section 5 (fragmentation): fragments reassembled
// however the bytes are chopped, control frames between fragments answered
// before the message they interrupt is echoed, and every continuation or
// fragmentation error failing the connection with 1002.

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

constexpr std::uint8_t cont = opcode::continuation;

// "Frame-wise" chops: each frame in its own write.
Case frame_wise(std::string id, const std::vector<std::string>& frames, std::vector<Answer> answers,
                Ending ending = Ending::client_closes, std::uint16_t code = 1000) {
  Case c{std::move(id), {}, ending, {code}};
  for (std::size_t i = 0; i < frames.size(); ++i)
    c.steps.push_back(send(frames[i], i + 1 == frames.size() ? answers : std::vector<Answer>{}));
  return c;
}

std::string joined(const std::vector<std::string>& frames) {
  std::string wire;
  for (const auto& f : frames) wire += f;
  return wire;
}

std::vector<Case> section5() {
  const std::vector<std::string> two = {frame(opcode::text, "fragment1", false),
                                        frame(cont, "fragment2")};
  const std::vector<std::string> with_ping = {frame(opcode::text, "fragment1", false),
                                              frame(opcode::ping, "ping payload"),
                                              frame(cont, "fragment2")};
  const std::vector<Answer> pong_then_echo = {pong("ping payload"), text("fragment1fragment2")};
  // Nothing to continue: a final continuation (5.9-5.11) or a non-final one
  // (5.12-5.14) first.
  const std::vector<std::string> stray_final = {frame(cont, "non-continuation payload"),
                                                frame(opcode::text, "Hello, world!")};
  const std::vector<std::string> stray_open = {frame(cont, "non-continuation payload", false),
                                               frame(opcode::text, "Hello, world!")};
  std::vector<Case> cases = {
      // Control frames may not be fragmented.
      fail_case("5.1", frame(opcode::ping, "fragment1", false) + frame(cont, "fragment2")),
      fail_case("5.2", frame(opcode::pong, "fragment1", false) + frame(cont, "fragment2")),
      echo_case("5.3", joined(two), {text("fragment1fragment2")}),
      echo_case("5.4", joined(two), {text("fragment1fragment2")}, 1),
      frame_wise("5.5", two, {text("fragment1fragment2")}),
      echo_case("5.6", joined(with_ping), pong_then_echo),
      echo_case("5.7", joined(with_ping), pong_then_echo, 1),
      frame_wise("5.8", with_ping, pong_then_echo),
      fail_case("5.9", joined(stray_final)),
      frame_wise("5.10", stray_final, {}, Ending::server_fails, 1002),
      fail_case("5.11", joined(stray_final), {}, 1002, 1),
      fail_case("5.12", joined(stray_open)),
      frame_wise("5.13", stray_open, {}, Ending::server_fails, 1002),
      fail_case("5.14", joined(stray_open), {}, 1002, 1),
      // The stray continuation fails the connection. The message before it
      // may be echoed first, or not (Autobahn's "non-strict"): it came in
      // fragments, so its echo waits for lws's next POLLOUT, which writes
      // lws's own close frame first.
      fail_case("5.15", frame(opcode::text, "fragment1", false) + frame(cont, "fragment2") +
                            frame(cont, "fragment3", false) + frame(opcode::text, "fragment4")),
  };
  cases.back().may_precede_close = {text("fragment1fragment2")};
  std::string twice_open, twice_final;
  for (int i = 0; i < 2; ++i) {
    twice_open += frame(cont, "fragment1", false) + frame(opcode::text, "fragment2", false) +
                  frame(cont, "fragment3");
    twice_final += frame(cont, "fragment1") + frame(opcode::text, "fragment2", false) +
                   frame(cont, "fragment3");
  }
  cases.push_back(fail_case("5.16", twice_open));
  cases.push_back(fail_case("5.17", twice_final));
  // A new data frame inside a fragmented message.
  cases.push_back(fail_case(
      "5.18", frame(opcode::text, "fragment1", false) + frame(opcode::text, "fragment2")));
  // 5.19 and 5.20: the first ping is answered while the message is still
  // incomplete (the client waits for that pong before sending the rest), the
  // second before the message's echo. 5.20 writes each frame on its own.
  const std::string first = frame(opcode::text, "fragment1", false) +
                            frame(cont, "fragment2", false) + frame(opcode::ping, "pongme 1!");
  const std::string rest = frame(cont, "fragment3", false) + frame(cont, "fragment4", false) +
                           frame(opcode::ping, "pongme 2!") + frame(cont, "fragment5");
  const std::vector<Answer> end = {pong("pongme 2!"),
                                   text("fragment1fragment2fragment3fragment4fragment5")};
  cases.push_back(Case{"5.19", {send(first, {pong("pongme 1!")}), send(rest, end)}});
  cases.push_back(
      Case{"5.20",
           {send(frame(opcode::text, "fragment1", false)), send(frame(cont, "fragment2", false)),
            send(frame(opcode::ping, "pongme 1!"), {pong("pongme 1!")}),
            send(frame(cont, "fragment3", false)), send(frame(cont, "fragment4", false)),
            send(frame(opcode::ping, "pongme 2!")), send(frame(cont, "fragment5"), end)}});
  return cases;
}

}  // namespace

TEST_GROUP(ConformanceFragments) {
  Watchdog watchdog{60s};
};

TEST(ConformanceFragments, Section5FragmentsReassembledPingsBetweenThemAnsweredFirst) {
  TestServer server(quick_options());
  const auto cases = section5();
  CHECK_EQUAL(20u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}
