#include "test/net/conformance_support.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace troupe::test::conformance {
namespace {

using namespace std::chrono_literals;

constexpr auto frame_timeout = 3s;
// lws's own close-ack timeout is 5 s: a server that waits for it fails here.
constexpr auto eof_timeout = 2s;

std::string describe(const RawFrame& f) {
  std::string text =
      "opcode " + std::to_string(f.opcode) + " (" + std::to_string(f.payload.size()) + " bytes";
  if (f.opcode == opcode::close)
    text += ", code " + std::to_string(f.close_code());
  else if (f.payload.size() <= 40)
    text += ", \"" + f.payload + "\"";
  return text + ")";
}

std::string codes_text(const std::vector<std::uint16_t>& codes) {
  std::string text;
  for (auto code : codes) text += (text.empty() ? "" : " or ") + std::to_string(code);
  return text;
}

std::string check_answer(RawClient& raw, const Answer& want) {
  const auto got = raw.read_frame(frame_timeout);
  if (!got)
    return "no frame where " + std::to_string(want.payload.size()) + " bytes of opcode " +
           std::to_string(want.opcode) + " were due";
  if (!got->fin) return "a fragmented answer: " + describe(*got);
  if (got->opcode != want.opcode || got->payload != want.payload) {
    return "got " + describe(*got) + " where opcode " + std::to_string(want.opcode) + " (" +
           std::to_string(want.payload.size()) + " bytes) was due";
  }
  return {};
}

std::string check_close(RawClient& raw, const Case& c) {
  auto got = raw.read_frame(frame_timeout);
  for (const Answer& optional : c.may_precede_close) {
    if (got && got->opcode == optional.opcode && got->payload == optional.payload)
      got = raw.read_frame(frame_timeout);
  }
  if (!got && c.drop_allowed && raw.wait_eof(eof_timeout)) return {};
  if (!got) return "no close frame (close code " + codes_text(c.codes) + " was due)";
  if (got->opcode != opcode::close) return "got " + describe(*got) + " where a close was due";
  if (std::find(c.codes.begin(), c.codes.end(), got->close_code()) == c.codes.end()) {
    return "close code " + std::to_string(got->close_code()) + ", not " + codes_text(c.codes);
  }
  if (c.ending == Ending::server_fails) {
    // A client answers the close; the server may already have closed TCP.
    raw.send_frame(opcode::close, close_payload(got->close_code()));
  }
  if (!raw.wait_eof(eof_timeout)) return "the server did not close the TCP connection";
  return {};
}

}  // namespace

std::string frame(std::uint8_t op, std::string_view payload, bool fin, std::uint8_t rsv) {
  return RawClient::encode_frame(op, payload, fin, rsv);
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xff);
  payload += reason;
  return payload;
}

Answer text(std::string payload) {
  return {opcode::text, std::move(payload)};
}
Answer binary(std::string payload) {
  return {opcode::binary, std::move(payload)};
}
Answer pong(std::string payload) {
  return {opcode::pong, std::move(payload)};
}

Step send(std::string wire, std::vector<Answer> answers, std::size_t chop) {
  return Step{std::move(wire), chop, std::move(answers)};
}

Case echo_case(std::string id, std::string wire, std::vector<Answer> answers, std::size_t chop) {
  return Case{std::move(id), {send(std::move(wire), std::move(answers), chop)}};
}

Case fail_case(std::string id, std::string wire, std::vector<Answer> answers_first,
               std::uint16_t code, std::size_t chop) {
  return Case{std::move(id),
              {send(std::move(wire), std::move(answers_first), chop)},
              Ending::server_fails,
              {code}};
}

std::string run_case(std::uint16_t port, const Case& c) {
  RawClient raw;
  if (!raw.connect(port)) return "connect failed";
  if (const int status = raw.upgrade("/echo/case-" + c.id); status != 101)
    return "upgrade answered " + std::to_string(status);
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    if (!raw.send_chopped(step.wire, step.chop) && c.ending != Ending::server_fails)
      return "send failed at step " + std::to_string(i + 1);
    for (const Answer& answer : step.answers) {
      if (auto error = check_answer(raw, answer); !error.empty())
        return "step " + std::to_string(i + 1) + ": " + error;
    }
  }
  if (c.ending == Ending::client_closes) raw.send_frame(opcode::close, close_payload(1000));
  return check_close(raw, c);
}

std::string run_cases(std::uint16_t port, const std::vector<Case>& cases) {
  std::string failures;
  for (const Case& c : cases) {
    if (auto error = run_case(port, c); !error.empty())
      failures += "\n  case " + c.id + ": " + error;
  }
  return failures;
}

}  // namespace troupe::test::conformance
