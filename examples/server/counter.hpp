#pragma once
// The smallest session actor: a persisted counter per name.
//   ws://HOST:PORT/counter/<name>
//   server → {"type":"value","value":N} on connect and to everyone after a change
//   client → {"type":"incr","by":K,"id":"..."}; server → {"type":"ack","id":"..."} once durable,
//            or {"type":"error","error":"...","id":"..."} (nothing changed)
// K is an integer (default 1) that must not take the value past 64 bits. An
// id names the increment: retried with the same id, it is acknowledged again
// but applied once.

#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <utility>

#include "json.hpp"
#include "net/gateway/persistent_session.hpp"
#include "protocol.hpp"

namespace examples {

// [tutorial:session]
struct CounterState {
  std::int64_t value = 0;
  RecentIds applied;  // the latest increments' ids: a retry is applied once
  MSGPACK_DEFINE(value, applied);
};

class Counter : public troupe::PersistentSession<Counter, CounterState> {
 public:
  void on_connect(troupe::Connection& c, const troupe::ConnectInfo&) { c.send(value_json()); }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text, troupe::MessageKind) {
    std::string why;
    auto request = parse_request(text, why);
    if (!request || request->type != "incr") {
      c.send(error_frame(request ? R"(expected {"type":"incr","by":K,"id":"..."})" : why,
                         request ? request->id : std::nullopt));
      co_return;
    }
    const auto& id = request->id;
    if (!id || !state().applied.contains(*id)) {
      CounterState next = state();
      auto by = int64_at(request->body, "by", 1);
      if (!by || __builtin_add_overflow(next.value, *by, &next.value)) {
        c.send(error_frame(by ? "the counter would overflow" : "by must be a 64-bit integer", id));
        co_return;
      }
      if (id) next.applied.add(*id);
      CounterState before = std::exchange(mutate(), std::move(next));
      if (auto saved = co_await commit(); !saved) {
        mutate() = std::move(before);  // not applied: the client may retry
        c.send(not_saved_frame(saved.error().to_string(), id));
        co_return;
      }
      broadcast(value_json());
    }
    if (id) c.send(ack_frame(*id));
  }

 private:
  std::string value_json() const {
    return to_text(Json{{"type", "value"}, {"value", state().value}});
  }
};
// [/tutorial:session]

}  // namespace examples
