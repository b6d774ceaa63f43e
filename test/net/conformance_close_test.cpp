// Autobahn case list, section 7 (closing): the close handshake completed by
// the server and TCP closed at once; nothing answered after the client's
// close; close payloads checked (length, UTF-8 reason, codes allowed on the
// wire). 7.1.6: messages that arrived before the client's close frame are
// delivered and echoed before the server's close (docs/net.md).

#include <CppUTest/TestHarness.h>

#include "test/net/conformance_support.hpp"
#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::conformance;

namespace {

constexpr std::uint8_t cont = opcode::continuation;

Case closing(std::string id, std::string wire, std::vector<std::uint16_t> codes,
             std::vector<Answer> answers = {}) {
  return Case{std::move(id),
              {send(std::move(wire), std::move(answers))},
              Ending::close_answered,
              std::move(codes)};
}

std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
  return frame(opcode::close, close_payload(code, reason));
}

std::vector<Case> section7() {
  const std::string big(256 * 1024, '*');
  std::vector<Case> cases = {
      Case{"7.1.1", {send(frame(opcode::text, "Hello World!"), {text("Hello World!")})}},
      closing("7.1.2", close_frame(1000) + frame(opcode::close, ""), {1000}),
      closing("7.1.3", close_frame(1000) + frame(opcode::ping, ""), {1000}),
      closing("7.1.4", close_frame(1000) + frame(opcode::text, "Hello World!"), {1000}),
      closing(
          "7.1.5",
          frame(opcode::text, "fragment1", false) + close_frame(1000) + frame(cont, "fragment2"),
          {1000}),
      // Our choice for 7.1.6: what came before the close is echoed first.
      closing("7.1.6",
              frame(opcode::text, big) + frame(opcode::text, "Hello World!") + close_frame(1000) +
                  frame(opcode::ping, ""),
              {1000}, {text(big), text("Hello World!")}),
      // An empty close is answered with an empty one (no code: 1005 here).
      closing("7.3.1", frame(opcode::close, ""), {1000, 1005}),
      closing("7.3.2", frame(opcode::close, "\x03"), {1002}),
      closing("7.3.3", close_frame(1000), {1000}),
      closing("7.3.4", close_frame(1000, "Hello World!"), {1000}),
      closing("7.3.5", close_frame(1000, std::string(123, '*')), {1000}),
      // 126 bytes: more than a control frame may carry.
      closing("7.3.6", close_frame(1000, std::string(124, '*')), {1002}),
      closing("7.5.1",
              close_frame(1000,
                          "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                          "edited"),
              {1002, 1007}),
  };
  const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                 1010, 1011, 3000, 3999, 4000, 4999};
  int n = 1;
  for (std::uint16_t code : valid) {
    cases.push_back(closing("7.7." + std::to_string(n++), close_frame(code), {1000, code}));
  }
  const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999};
  n = 1;
  for (std::uint16_t code : invalid) {
    cases.push_back(closing("7.9." + std::to_string(n++), close_frame(code), {1002}));
  }
  // Past 4999 no code is defined (RFC 6455 section 7.4.2): a protocol error.
  cases[11].drop_allowed = true;  // 7.3.6, as for 2.5 (docs/net.md)
  cases.push_back(closing("7.13.1", close_frame(5000), {1002}));
  cases.push_back(closing("7.13.2", close_frame(65535), {1002}));
  return cases;
}

}  // namespace

TEST_GROUP(ConformanceClose) {
  Watchdog watchdog{60s};
};

TEST(ConformanceClose, Section7CloseHandshakeCompletedAndTcpClosedByTheServer) {
  TestServer server(quick_options());
  const auto cases = section7();
  CHECK_EQUAL(37u, cases.size());
  const std::string failures = run_cases(server.port(), cases);
  if (!failures.empty()) FAIL(failures.c_str());
  CHECK_TRUE(server.stop());
}

TEST(ConformanceClose, MessagesBeforeTheClientsCloseReachTheHandler) {
  TestServer server(quick_options());
  // "second" comes in two frames: its echo waits in the queue for lws's next
  // POLLOUT (a ping may have come between them), and still goes out before
  // the close frame lws echoes.
  const std::string wire = frame(opcode::text, "first") + frame(opcode::binary, "sec", false) +
                           frame(opcode::continuation, "ond") +
                           frame(opcode::close, close_payload(1000, "bye")) +
                           frame(opcode::text, "after the close");
  CHECK_EQUAL(std::string(),
              run_case(server.port(), Case{"7.1.6-handler",
                                           {send(wire, {text("first"), binary("second")})},
                                           Ending::close_answered,
                                           {1000}}));
  const auto first = server.handler().wait(Event::Kind::message, 3s);
  const auto second = server.handler().wait(Event::Kind::message, 3s);
  CHECK_TRUE(first.has_value() && second.has_value());
  STRCMP_EQUAL("first", first->data.c_str());
  STRCMP_EQUAL("second", second->data.c_str());
  const auto closed = server.handler().wait(Event::Kind::close, 3s);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1000, closed->code);
  STRCMP_EQUAL("bye", closed->data.c_str());
  CHECK_EQUAL(2u, server.handler().count(Event::Kind::message));
  CHECK_TRUE(server.stop());
}

// What the client sees (above) is also what the handler is told.
TEST(ConformanceClose, FailedClosesReachTheHandlerWithTheCodeSent) {
  TestServer server(quick_options());
  const std::pair<std::string, std::uint16_t> sent[] = {
      {"\x03", 1002},                          // 7.3.2
      {close_payload(1000, "bye\xff"), 1007},  // 7.5.1
      {close_payload(5000), 1002},             // 7.13.1
      {close_payload(1005), 1002},             // 7.9.4
  };
  for (const auto& [payload, code] : sent) {
    CHECK_EQUAL(std::string(), run_case(server.port(), Case{"handler",
                                                            {send(frame(opcode::close, payload))},
                                                            Ending::close_answered,
                                                            {code}}));
    const auto closed = server.handler().wait(Event::Kind::close, 3s);
    CHECK_TRUE(closed.has_value());
    CHECK_EQUAL(code, closed->code);
  }
  CHECK_TRUE(server.stop());
}
