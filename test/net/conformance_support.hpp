#pragma once
// Test support for the conformance suites (test/net/conformance_*_test.cpp):
// RFC 6455 cases named and numbered after the Autobahn test suite's case list
// (sections 1-7, 9, 10), written for Troupe and run against the harness's
// echo route over loopback with RawClient. One case is a list of steps (bytes
// to send, possibly chopped, then the frames the server must answer, in
// order) and an ending: how the connection must close.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "test/net/raw_client.hpp"

namespace troupe::test::conformance {

struct Answer {
  std::uint8_t opcode = opcode::text;
  std::string payload;
};

struct Step {
  std::string wire;             // client frames, already encoded
  std::size_t chop = 0;         // writes of at most this many bytes; 0 = one write
  std::vector<Answer> answers;  // what the server sends back, in order
};

enum class Ending {
  // The client then closes with 1000; the server answers with `codes`.
  client_closes,
  // The last step sent the client's close frame; the server answers with `codes`.
  close_answered,
  // The server fails the connection: its next frame is a close with one of
  // `codes` (no pong or echo before it); the client answers the close.
  server_fails,
};

struct Case {
  std::string id;  // Autobahn's case id, e.g. "5.6"
  std::vector<Step> steps;
  Ending ending = Ending::client_closes;
  std::vector<std::uint16_t> codes = {1000};
  // Autobahn also accepts a dropped TCP connection here (2.5, 7.3.6).
  bool drop_allowed = false;
  // Frames the server may send, or not, before its close (Autobahn's
  // "non-strict" outcome, e.g. 5.15).
  std::vector<Answer> may_precede_close;
};

// Each ends with the server closing the TCP connection: reading EOF, within
// a bound well under lws's 5 s close-ack timeout.
std::string run_case(std::uint16_t port, const Case& c);
// "" when every case passed; otherwise one line per failed case, naming it.
std::string run_cases(std::uint16_t port, const std::vector<Case>& cases);

// Builders.
std::string frame(std::uint8_t op, std::string_view payload, bool fin = true, std::uint8_t rsv = 0);
std::string close_payload(std::uint16_t code, std::string_view reason = {});
Answer text(std::string payload);
Answer binary(std::string payload);
Answer pong(std::string payload);
// One step: `wire` in writes of `chop` bytes, answered by `answers`.
Step send(std::string wire, std::vector<Answer> answers = {}, std::size_t chop = 0);
// A case of one step.
Case echo_case(std::string id, std::string wire, std::vector<Answer> answers, std::size_t chop = 0);
Case fail_case(std::string id, std::string wire, std::vector<Answer> answers_first = {},
               std::uint16_t code = 1002, std::size_t chop = 0);

}  // namespace troupe::test::conformance
