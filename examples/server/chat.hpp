#pragma once
// Chat rooms: ws://HOST:PORT/chat/<room>?name=<nick>. See README.md here for
// the protocol. History (the last 100 messages) is the room's persisted
// state; a message is acknowledged to its sender once it is durable.

#include <chrono>
#include <msgpack.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "json.hpp"
#include "net/session.hpp"
#include "persist/actor_state.hpp"

namespace examples {

struct ChatMessage {
  std::string from;
  std::string text;
  std::int64_t ts = 0;  // ms since the epoch
  MSGPACK_DEFINE(from, text, ts);
};

struct ChatHistory {
  std::vector<ChatMessage> messages;
  MSGPACK_DEFINE(messages);
};

class ChatRoom : public troupe::Session {
 public:
  ChatRoom(troupe::ActorStore* store, bool demo_faults)
      : store_(store), demo_faults_(demo_faults) {}

  troupe::Task<> on_start() override {
    state_.emplace(*store_, "chat/" + name());
    co_await state_->load(self());  // exits, naming the cause, if it cannot
  }

  troupe::Task<> on_connect(troupe::Connection& c, const troupe::ConnectInfo& info) override {
    std::string nick(info.request.query_param("name").value_or("anonymous"));
    c.state["name"] = nick;
    std::string history = R"({"type":"history","messages":[)";
    bool first = true;
    for (const auto& m : state_->get().messages) {
      history += (first ? "" : ",") + message_json(m, false);
      first = false;
    }
    c.send(history + "]}");
    if (!info.resumed) broadcast(R"({"type":"join","name":)" + quote(nick) + "}", c.id());
    co_return;
  }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text,
                            troupe::MessageKind) override {
    auto msg = parse_flat_object(text);
    if (!msg || !msg->count("type")) {
      c.send(R"({"type":"error","error":"expected a JSON object with a type"})");
      co_return;
    }
    const std::string& type = msg->at("type");
    if (type == "crash" && demo_faults_) throw std::runtime_error("crash requested by a client");
    if (type != "say" || !msg->count("text") || msg->at("text").empty()) {
      c.send(
          R"({"type":"error","error":"unknown message: expected {\"type\":\"say\",\"text\":...}"})");
      co_return;
    }
    ChatMessage m{c.state["name"], msg->at("text"),
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()};
    auto& messages = state_->mutate().messages;
    messages.push_back(m);
    if (messages.size() > 100) messages.erase(messages.begin());
    co_await state_->commit_or_exit(self());  // durable before anyone hears of it
    broadcast(message_json(m, true));
    if (msg->count("id")) c.send(R"({"type":"ack","id":)" + quote(msg->at("id")) + "}");
  }

  // The state's own messages (write completions, timers).
  void on_info(troupe::AnyMessage& m) override { state_->handle(m); }
  troupe::Task<> on_stop() override { (void)co_await state_->flush(self()); }

  troupe::Task<> on_close(troupe::Connection& c, std::uint16_t, std::string_view) override {
    broadcast(R"({"type":"leave","name":)" + quote(c.state["name"]) + "}");
    co_return;
  }

 private:
  static std::string message_json(const ChatMessage& m, bool typed) {
    return std::string("{") + (typed ? R"("type":"message",)" : "") + R"("from":)" + quote(m.from) +
           R"(,"text":)" + quote(m.text) + R"(,"ts":)" + std::to_string(m.ts) + "}";
  }

  troupe::ActorStore* store_;
  bool demo_faults_;
  std::optional<troupe::ActorState<ChatHistory>> state_;
};

}  // namespace examples
