#pragma once
// Chat rooms: ws://HOST:PORT/chat/<room>?name=<nick>. See README.md here for
// the protocol. History (the latest messages, at most 100 and 256 KiB) is
// the room's persisted state; a message is acknowledged to its sender once
// it is durable, and a message retried with the same id is stored once.

#include <chrono>
#include <cstddef>
#include <msgpack.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "json.hpp"
#include "net/gateway/persistent_session.hpp"
#include "protocol.hpp"
#include "text.hpp"

namespace examples {

struct ChatMessage {
  std::string from;
  std::string text;
  std::int64_t ts = 0;  // ms since the epoch
  MSGPACK_DEFINE(from, text, ts);
};

struct ChatHistory {
  std::vector<ChatMessage> messages;
  RecentIds applied;  // "<nick>\n<id>" of the latest messages sent with an id
  MSGPACK_DEFINE(messages, applied);
};

struct ChatLimits {
  std::size_t max_text_bytes = 16 << 10;
  std::size_t max_messages = 100;
  // The history's size, counted as its strings' bytes plus 32 per message
  // (about its JSON in the history frame), so that neither the snapshot
  // (rewritten on every message) nor the history frame grows without bound.
  std::size_t max_history_bytes = 256 << 10;
};

class ChatRoom : public troupe::PersistentSession<ChatRoom, ChatHistory> {
 public:
  explicit ChatRoom(bool demo_faults, ChatLimits limits = {})
      : demo_faults_(demo_faults), limits_(limits) {}

  void on_start() {
    // Histories written before the room checked its input may hold invalid
    // UTF-8 (and be too big): repaired before anyone hears of them, and
    // written back with the next write.
    ChatHistory loaded = state();
    bool repaired = false;
    for (auto& m : loaded.messages) {
      repaired = repair_utf8(m.from) || repaired;
      repaired = repair_utf8(m.text) || repaired;
    }
    repaired = trim(loaded) || repaired;
    if (repaired) mutate() = std::move(loaded);
  }

  troupe::Task<> on_connect(troupe::Connection& c, const troupe::ConnectInfo& info) {
    std::string nick(info.request.query_param("name").value_or("anonymous"));
    if (auto why = nick_problem(nick)) {
      c.state["refused"] = "1";
      c.close(troupe::close_code::policy_violation, *why);
      co_return;
    }
    c.state["name"] = nick;
    Json messages = Json::array();
    for (const auto& m : state().messages) messages.push_back(message_json(m, false));
    c.send(to_text(Json{{"type", "history"}, {"messages", std::move(messages)}}));
    if (!info.resumed) broadcast(to_text(Json{{"type", "join"}, {"name", nick}}), c.id());
  }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text, troupe::MessageKind) {
    if (c.state.count("refused")) co_return;  // closing
    std::string why;
    auto request = parse_request(text, why);
    if (!request) {
      c.send(error_frame(why));
      co_return;
    }
    const auto& id = request->id;
    if (request->type == "crash" && demo_faults_)
      throw std::runtime_error("crash requested by a client");
    auto said = string_at(request->body, "text");
    if (request->type != "say" || !said || said->empty()) {
      c.send(error_frame(R"(unknown message: expected {"type":"say","text":...})", id));
      co_return;
    }
    if (said->size() > limits_.max_text_bytes) {
      c.send(
          error_frame("text longer than " + std::to_string(limits_.max_text_bytes) + " bytes", id));
      co_return;
    }
    const std::string& nick = c.state["name"];
    std::optional<std::string> key;  // ids are the client's: one nick's never meet another's
    if (id) key = nick + "\n" + *id;
    if (!key || !state().applied.contains(*key)) {
      ChatMessage m{nick, std::move(*said),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count()};
      ChatHistory next = state();
      next.messages.push_back(m);
      if (key) next.applied.add(*key);
      trim(next);
      ChatHistory before = std::exchange(mutate(), std::move(next));
      if (auto saved = co_await commit(); !saved) {
        mutate() = std::move(before);  // not stored: the client may retry
        c.send(not_saved_frame(saved.error().to_string(), id));
        co_return;
      }
      broadcast(to_text(message_json(m, true)));  // durable before anyone hears of it
    }
    if (id) c.send(ack_frame(*id));
  }

  troupe::Task<> on_close(troupe::Connection& c, std::uint16_t, std::string_view) {
    if (!c.state.count("refused"))
      broadcast(to_text(Json{{"type", "leave"}, {"name", c.state["name"]}}));
    co_return;
  }

 private:
  static Json message_json(const ChatMessage& m, bool typed) {
    Json j = Json::object();
    if (typed) j["type"] = "message";
    j["from"] = m.from;
    j["text"] = m.text;
    j["ts"] = m.ts;
    return j;
  }

  // Drops the oldest messages past the limits; true if it dropped any.
  bool trim(ChatHistory& h) const {
    std::size_t bytes = 0, keep = 0;
    for (auto it = h.messages.rbegin(); it != h.messages.rend(); ++it, ++keep) {
      bytes += it->from.size() + it->text.size() + 32;
      if (keep == limits_.max_messages || bytes > limits_.max_history_bytes) break;
    }
    if (keep == h.messages.size()) return false;
    h.messages.erase(h.messages.begin(), h.messages.end() - static_cast<std::ptrdiff_t>(keep));
    return true;
  }

  bool demo_faults_;
  ChatLimits limits_;
};

}  // namespace examples
