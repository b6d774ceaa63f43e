#pragma once
// The smallest session actor: a persisted counter per name.
//   ws://HOST:PORT/counter/<name>
//   server → {"type":"value","value":N} on connect and to everyone after a change
//   client → {"type":"incr","by":K,"id":"..."}; server → {"type":"ack","id":"..."} once durable

#include <cstdlib>
#include <msgpack.hpp>
#include <optional>
#include <string>

#include "json.hpp"
#include "net/session.hpp"
#include "persist/actor_state.hpp"

namespace examples {

// [tutorial:session]
struct CounterState {
  long long value = 0;
  MSGPACK_DEFINE(value);
};

class Counter : public troupe::Session {
 public:
  explicit Counter(troupe::ActorStore* store) : store_(store) {}

  troupe::Task<> on_start() override {
    state_.emplace(*store_, "counter/" + name());
    co_await state_->load(self());
  }

  void on_info(troupe::AnyMessage& m) override { state_->handle(m); }
  troupe::Task<> on_stop() override { (void)co_await state_->flush(self()); }

  troupe::Task<> on_connect(troupe::Connection& c, const troupe::ConnectInfo&) override {
    c.send(value_json());
    co_return;
  }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text,
                            troupe::MessageKind) override {
    auto msg = parse_flat_object(text);
    if (!msg || msg->count("type") == 0 || msg->at("type") != "incr") {
      c.send(R"({"type":"error","error":"expected {\"type\":\"incr\",\"by\":K}"})");
      co_return;
    }
    long long by = msg->count("by") ? std::atoll(msg->at("by").c_str()) : 1;
    state_->mutate().value += by;
    co_await state_->commit_or_exit(self());
    broadcast(value_json());
    if (msg->count("id")) c.send(R"({"type":"ack","id":)" + quote(msg->at("id")) + "}");
  }

 private:
  std::string value_json() const {
    return R"({"type":"value","value":)" + std::to_string(state_->get().value) + "}";
  }

  troupe::ActorStore* store_;
  std::optional<troupe::ActorState<CounterState>> state_;
};
// [/tutorial:session]

}  // namespace examples
