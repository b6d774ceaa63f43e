#pragma once
// A session that sets, cancels and reports its alarm on request, shared by
// the alarm tests over sockets (test/net) and on virtual time
// (test/testing). `Rings` records what happened, as the suite needs:
//   std::size_t ring(std::string session, std::size_t connections);  // rings so far
//   void stopped();
//
// "alarm:<ms>" sets the alarm that far ahead and answers "set" (or the
// store's error); "cancel" cancels it; "when" answers "none" or "pending".
// Sessions named crashy-* throw from their first on_alarm.

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

#include "net/gateway/session.hpp"
#include "runtime/clock.hpp"

namespace troupe::test {

template <class Rings>
struct AlarmClock : Session<AlarmClock<Rings>> {
  explicit AlarmClock(Rings* rings) : rings(rings) {}
  Rings* rings;

  Task<> on_message(Connection& c, std::string_view text, MessageKind) {
    if (text.starts_with("alarm:")) {
      int ms = 0;
      std::from_chars(text.data() + 6, text.data() + text.size(), ms);
      auto set = co_await this->set_alarm(system_now() + std::chrono::milliseconds(ms));
      c.send(set ? "set" : "error: " + to_string(set.error()));
    } else if (text == "cancel") {
      auto cancelled = co_await this->cancel_alarm();
      c.send(cancelled ? "cancelled" : "error");
    } else if (text == "when") {
      c.send(this->alarm() ? "pending" : "none");
    }
  }
  Task<> on_alarm() {
    const std::size_t rung = rings->ring(this->name(), this->connection_count());
    this->broadcast("ring");
    if (this->name().starts_with("crashy") && rung == 1)
      throw std::runtime_error("on_alarm fails once");
    co_return;
  }
  Task<> on_stop() {
    rings->stopped();
    co_return;
  }
};

}  // namespace troupe::test
