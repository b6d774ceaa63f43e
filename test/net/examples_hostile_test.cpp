// The example apps against hostile input, through a real gateway on the
// file store with WebSocket clients: escaped emoji, lone surrogates, bytes
// that are not UTF-8, nicks that are not names, huge messages, counter
// increments that overflow or are retried, and snapshots poisoned by the
// examples' old JSON decoder. Whatever comes in, every frame that goes out
// is valid UTF-8 and the room stays usable for everyone.

#include <CppUTest/TestHarness.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "examples/server/chat.hpp"
#include "examples/server/counter.hpp"
#include "examples/server/game.hpp"
#include "examples/server/text.hpp"
#include "net/gateway/gateway.hpp"
#include "persist/persistence.hpp"
#include "persist/persistent_state.hpp"
#include "test/net/harness.hpp"
#include "test/net/stored_gateway.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// The state layouts of the examples before this hardening, as the old
// decoder wrote them: nicks and texts are raw bytes, unchecked.
struct OldChatHistory {
  std::vector<examples::ChatMessage> messages;
  MSGPACK_DEFINE(messages);
};
struct OldGameState {
  std::string board = std::string(9, '.');
  std::string turn = "x";
  std::string x, o, winner, reason;
  std::int64_t deadline = 0;
  MSGPACK_DEFINE(board, turn, x, o, winner, reason, deadline);
};

// Writes, on connect, a chat history and a game state in the old layouts
// holding bytes that are not UTF-8 (a "\uD83D" the old decoder turned into
// ED A0 BD, and a %ff nick), under the keys of the chat room and the game
// of its own name; then says "poisoned".
struct Poisoner : Session<Poisoner> {
  explicit Poisoner(Persistence* store) : store(store) {}
  Persistence* store;

  Task<> on_connect(Connection& c, const ConnectInfo&) {
    PersistentState<OldChatHistory> chat(*store, "chat/" + name());
    co_await chat.load(self());
    chat.mutate().messages.push_back({"ann\xff", "lone \xed\xa0\xbd surrogate", 1});
    chat.mutate().messages.push_back({"bob", "fine", 2});
    co_await chat.commit_or_exit(self());
    PersistentState<OldGameState> game(*store, "game/" + name());
    co_await game.load(self());
    game.mutate().x = "ann\xff";
    game.mutate().o = "bob";
    game.mutate().board = "x........";
    game.mutate().turn = "o";
    co_await game.commit_or_exit(self());
    c.send("poisoned");
  }
  Task<> on_message(Connection&, std::string_view, MessageKind) { co_return; }
};

struct ExampleServer {
  StoredGateway stored{[](Gateway& g, Persistence& actors) {
    g.route("/chat", [] { return std::make_unique<examples::ChatRoom>(false); });
    g.route("/counter", [] { return std::make_unique<examples::Counter>(); });
    g.route("/game", [] { return std::make_unique<examples::TicTacToe>(); });
    g.route("/poison", [a = &actors] { return std::make_unique<Poisoner>(a); });
  }};
  std::uint16_t port() const { return stored.port(); }
  void restart() {
    stored.stop();
    stored.start();
  }
};

// The next frame, which must be valid UTF-8 (and is "<nothing>" if none came).
std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  if (!m) return "<nothing>";
  CHECK_TRUE_TEXT(examples::is_valid_utf8(m->data), ("not UTF-8: " + m->data).c_str());
  return m->data;
}

examples::Json next_json(ClientConnection& c) {
  auto j = examples::parse_object(next(c));
  CHECK_TRUE(j.has_value());
  return j.value_or(examples::Json::object());
}

std::string type_of(const examples::Json& j) {
  return examples::string_at(j, "type").value_or("<no type>");
}

std::shared_ptr<ClientConnection> open(WsTestClient& client, std::uint16_t port,
                                       const std::string& path) {
  auto c = client.connect(port, path);
  CHECK_TRUE_TEXT(c->wait_open(3s), path.c_str());
  return c;
}

// A nick the examples must not accept: refused before the upgrade (400, by
// a gateway that validates query strings) or closed by the session with 1008.
void check_refused(WsTestClient& client, std::uint16_t port, const std::string& path) {
  auto c = client.connect(port, path);
  if (!c->wait_open(3s)) return;  // refused by the gateway
  auto closed = c->wait_closed(5s);
  CHECK_TRUE_TEXT(closed.has_value(), path.c_str());
  LONGS_EQUAL(close_code::policy_violation, closed.value_or(ClientClose{}).code);
  CHECK_TRUE(examples::is_valid_utf8(closed.value_or(ClientClose{}).reason));
}

const std::string emoji = "\xF0\x9F\x98\x80";    // U+1F600 in UTF-8
const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

TEST_GROUP(ExamplesHostile) {
  Watchdog watchdog{60s};
};

TEST(ExamplesHostile, ChatJoinsEscapedSurrogatePairsRefusesLoneOnesAndStaysUsable) {
  ExampleServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/chat/emoji?name=ann");
  next(*ann);  // history
  auto bob = open(client, server.port(), "/chat/emoji?name=bob");
  next(*bob);
  next(*ann);  // bob joined

  // How Python's json.dumps sends an emoji: one code point, in UTF-8.
  ann->send(R"({"type":"say","text":"hi \uD83D\uDE00","id":"1"})");
  auto said = next_json(*bob);
  STRCMP_EQUAL("message", type_of(said).c_str());
  STRCMP_EQUAL(("hi " + emoji).c_str(), examples::string_at(said, "text").value_or("").c_str());
  STRCMP_EQUAL("message", type_of(next_json(*ann)).c_str());
  STRCMP_EQUAL("ack", type_of(next_json(*ann)).c_str());

  // Lone surrogates, and bytes that are not UTF-8 at all (sent as a binary
  // frame, which the chat reads as JSON too): an error to the sender only.
  for (std::string bad : {R"({"type":"say","text":"\uD83D","id":"2"})",
                          R"({"type":"say","text":"\uDE00 low","id":"3"})",
                          R"({"type":"say","text":"\uD83Dx","id":"4"})"}) {
    ann->send(bad);
    STRCMP_EQUAL("error", type_of(next_json(*ann)).c_str());
  }
  ann->send("{\"type\":\"say\",\"text\":\"\xff\xfe\"}", MessageKind::binary);
  STRCMP_EQUAL("error", type_of(next_json(*ann)).c_str());

  // Nicks that are not names never get in, and bob hears of none of them.
  for (const char* path :
       {"/chat/emoji?name=%ff", "/chat/emoji?name=%ed%a0%bd", "/chat/emoji?name=a%01b",
        "/chat/emoji?name=%c2%85", "/chat/emoji?name=123456789012345678901234567890123"})
    check_refused(client, server.port(), path);
  // 32 characters, multi-byte ones included, are a name.
  std::string longest;
  for (int i = 0; i < 32; ++i) longest += "%C3%A9";
  auto cy = open(client, server.port(), "/chat/emoji?name=" + longest);
  next(*cy);
  auto joined = next_json(*bob);
  STRCMP_EQUAL("join", type_of(joined).c_str());
  LONGS_EQUAL(64, examples::string_at(joined, "name").value_or("").size());
  next(*ann);

  // The room works for everyone.
  bob->send(R"({"type":"say","text":"still here","id":"5"})");
  for (auto* c : {ann.get(), bob.get(), cy.get()})
    STRCMP_EQUAL("still here", examples::string_at(next_json(*c), "text").value_or("").c_str());
  STRCMP_EQUAL("ack", type_of(next_json(*bob)).c_str());

  // After a restart the history is clean: the emoji, and nothing refused.
  server.restart();
  WsTestClient again;
  auto dan = open(again, server.port(), "/chat/emoji?name=dan");
  auto history = next_json(*dan);
  STRCMP_EQUAL("history", type_of(history).c_str());
  LONGS_EQUAL(2, history["messages"].size());
  STRCMP_EQUAL(("hi " + emoji).c_str(), history["messages"][0]["text"].get<std::string>().c_str());
}

TEST(ExamplesHostile, ChatRefusesHugeMessagesAndBoundsItsHistoryByBytes) {
  ExampleServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/chat/big?name=ann");
  next(*ann);
  // A 1 MB message: refused, not stored.
  ann->send(examples::to_text(
      examples::Json{{"type", "say"}, {"text", std::string(1'000'000, 'a')}, {"id", "huge"}}));
  auto refused = next_json(*ann);
  STRCMP_EQUAL("error", type_of(refused).c_str());
  STRCMP_EQUAL("huge", examples::string_at(refused, "id").value_or("").c_str());

  // 40 messages of the largest size: the history keeps the newest that fit
  // in 256 KiB (fewer than 100).
  const std::size_t size = examples::ChatLimits{}.max_text_bytes;
  for (int i = 0; i < 40; ++i) {
    std::string text = std::to_string(i) + ":" + std::string(size - 3, 'b');
    ann->send(examples::to_text(
        examples::Json{{"type", "say"}, {"text", text}, {"id", std::to_string(i)}}));
    STRCMP_EQUAL("message", type_of(next_json(*ann)).c_str());
    STRCMP_EQUAL("ack", type_of(next_json(*ann)).c_str());
  }
  server.restart();
  WsTestClient again;
  auto bob = open(again, server.port(), "/chat/big?name=bob");
  auto history = next_json(*bob);
  std::size_t bytes = examples::to_text(history).size();
  CHECK_TRUE(bytes <= examples::ChatLimits{}.max_history_bytes);
  CHECK_TRUE(bytes >= examples::ChatLimits{}.max_history_bytes - 2 * size);
  const auto& messages = history["messages"];
  CHECK_TRUE(messages.size() < 40);
  STRCMP_EQUAL("39:", messages.back()["text"].get<std::string>().substr(0, 3).c_str());
  // The snapshots on disk are bounded as well (a few generations of 256 KiB).
  std::uintmax_t on_disk = 0;
  for (const auto& f :
       std::filesystem::recursive_directory_iterator(server.stored.files.directory()))
    if (f.is_regular_file()) on_disk += f.file_size();
  CHECK_TRUE(on_disk < 2'000'000);
}

TEST(ExamplesHostile, ChatStoresAMessageRetriedWithTheSameIdOnce) {
  ExampleServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/chat/retry?name=ann");
  next(*ann);
  auto bob = open(client, server.port(), "/chat/retry?name=bob");
  next(*bob);
  next(*ann);
  ann->send(R"({"type":"say","text":"once","id":"r1"})");
  STRCMP_EQUAL("message", type_of(next_json(*ann)).c_str());
  STRCMP_EQUAL("ack", type_of(next_json(*ann)).c_str());
  STRCMP_EQUAL("message", type_of(next_json(*bob)).c_str());
  // The retry is acknowledged, not stored or broadcast again; bob's own "r1"
  // is another message.
  ann->send(R"({"type":"say","text":"once","id":"r1"})");
  STRCMP_EQUAL(R"({"type":"ack","id":"r1"})", next(*ann).c_str());
  bob->send(R"({"type":"say","text":"mine","id":"r1"})");
  STRCMP_EQUAL("mine", examples::string_at(next_json(*ann), "text").value_or("").c_str());
  STRCMP_EQUAL("mine", examples::string_at(next_json(*bob), "text").value_or("").c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"r1"})", next(*bob).c_str());
  // Also after a restart of the server.
  server.restart();
  WsTestClient again;
  auto ann2 = open(again, server.port(), "/chat/retry?name=ann");
  LONGS_EQUAL(2, next_json(*ann2)["messages"].size());
  ann2->send(R"({"type":"say","text":"once","id":"r1"})");
  STRCMP_EQUAL(R"({"type":"ack","id":"r1"})", next(*ann2).c_str());
  auto cy = open(again, server.port(), "/chat/retry?name=cy");
  LONGS_EQUAL(2, next_json(*cy)["messages"].size());
}

TEST(ExamplesHostile, CounterAppliesAnIncrementRetriedWithTheSameIdOnce) {
  ExampleServer server;
  WsTestClient client;
  auto a = open(client, server.port(), "/counter/once");
  auto b = open(client, server.port(), "/counter/once");
  next(*a);
  next(*b);
  a->send(R"({"type":"incr","by":2,"id":"x"})");
  STRCMP_EQUAL(R"({"type":"value","value":2})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"x"})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"value","value":2})", next(*b).c_str());
  for (int i = 0; i < 2; ++i) {
    a->send(R"({"type":"incr","by":2,"id":"x"})");
    STRCMP_EQUAL(R"({"type":"ack","id":"x"})", next(*a).c_str());
  }
  b->send(R"({"type":"incr","by":1,"id":"y"})");
  STRCMP_EQUAL(R"({"type":"value","value":3})", next(*b).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"y"})", next(*b).c_str());
  STRCMP_EQUAL(R"({"type":"value","value":3})", next(*a).c_str());

  // The ids are part of the state: a retry after a restart is applied once too.
  server.restart();
  WsTestClient again;
  auto c = open(again, server.port(), "/counter/once");
  STRCMP_EQUAL(R"({"type":"value","value":3})", next(*c).c_str());
  c->send(R"({"type":"incr","by":2,"id":"x"})");
  STRCMP_EQUAL(R"({"type":"ack","id":"x"})", next(*c).c_str());
  c->send(R"({"type":"incr","id":"z"})");  // by defaults to 1
  STRCMP_EQUAL(R"({"type":"value","value":4})", next(*c).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"z"})", next(*c).c_str());
}

TEST(ExamplesHostile, CounterKeepsOnlyTheLatestIdsItApplied) {
  ExampleServer server;
  WsTestClient client;
  auto a = open(client, server.port(), "/counter/many");
  next(*a);
  const int n = static_cast<int>(examples::RecentIds::capacity) + 1;
  for (int i = 0; i < n; ++i) {
    a->send(R"({"type":"incr","id":")" + std::to_string(i) + R"("})");
    next(*a);
    next(*a);
  }
  // The newest id is remembered; the oldest has been forgotten.
  a->send(R"({"type":"incr","id":")" + std::to_string(n - 1) + R"("})");
  STRCMP_EQUAL(("{\"type\":\"ack\",\"id\":\"" + std::to_string(n - 1) + "\"}").c_str(),
               next(*a).c_str());
  a->send(R"({"type":"incr","id":"0"})");
  STRCMP_EQUAL(("{\"type\":\"value\",\"value\":" + std::to_string(n + 1) + "}").c_str(),
               next(*a).c_str());
}

TEST(ExamplesHostile, CounterRefusesIncrementsThatAreNotIntegersOrWouldOverflow) {
  ExampleServer server;
  WsTestClient client;
  auto a = open(client, server.port(), "/counter/edge");
  next(*a);
  a->send(R"({"type":"incr","by":9223372036854775805,"id":"big"})");
  STRCMP_EQUAL(R"({"type":"value","value":9223372036854775805})", next(*a).c_str());
  next(*a);  // ack
  for (const char* bad : {
           R"({"type":"incr","by":3,"id":"over"})",
           R"({"type":"incr","by":9223372036854775807,"id":"over"})",
           R"({"type":"incr","by":9223372036854775808,"id":"over"})",
           R"({"type":"incr","by":18446744073709551615,"id":"over"})",
           R"({"type":"incr","by":-9223372036854775809,"id":"over"})",
           R"({"type":"incr","by":1e30,"id":"over"})",
           R"({"type":"incr","by":1.5,"id":"over"})",
           R"({"type":"incr","by":"1","id":"over"})",
           R"({"type":"incr","by":null,"id":"over"})",
       }) {
    a->send(bad);
    auto error = next_json(*a);
    STRCMP_EQUAL_TEXT("error", type_of(error).c_str(), bad);
    STRCMP_EQUAL("over", examples::string_at(error, "id").value_or("").c_str());
  }
  // Nothing changed, and the largest step that fits still works (an id
  // refused is not an id applied).
  a->send(R"({"type":"incr","by":2,"id":"over"})");
  STRCMP_EQUAL(R"({"type":"value","value":9223372036854775807})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"over"})", next(*a).c_str());
  a->send(R"({"type":"incr","by":-9223372036854775807,"id":"down"})");
  STRCMP_EQUAL(R"({"type":"value","value":0})", next(*a).c_str());
  next(*a);
  a->send(R"({"type":"incr","by":-9223372036854775807,"id":"down2"})");
  next(*a);
  next(*a);
  a->send(R"({"type":"incr","by":-2,"id":"under"})");
  STRCMP_EQUAL("error", type_of(next_json(*a)).c_str());
  a->send(R"({"type":"incr","by":-1,"id":"min"})");
  STRCMP_EQUAL(R"({"type":"value","value":-9223372036854775808})", next(*a).c_str());
}

TEST(ExamplesHostile, SnapshotsPoisonedByTheOldDecoderAreRepairedOnLoad) {
  ExampleServer server;
  {
    WsTestClient client;
    auto p = open(client, server.port(), "/poison/old");
    STRCMP_EQUAL("poisoned", next(*p).c_str());
  }
  server.restart();
  WsTestClient client;
  auto cy = open(client, server.port(), "/chat/old?name=cy");
  auto history = next_json(*cy);
  const auto& messages = history["messages"];
  LONGS_EQUAL(2, messages.size());
  STRCMP_EQUAL(("ann" + replacement).c_str(), messages[0]["from"].get<std::string>().c_str());
  STRCMP_EQUAL(("lone " + replacement + replacement + replacement + " surrogate").c_str(),
               messages[0]["text"].get<std::string>().c_str());
  STRCMP_EQUAL("fine", messages[1]["text"].get<std::string>().c_str());
  // The room works, and the repair was written back: clean after a restart.
  cy->send(R"({"type":"say","text":"after","id":"1"})");
  next(*cy);
  next(*cy);

  auto dan = open(client, server.port(), "/game/old?name=dan");
  auto state = next_json(*dan);
  STRCMP_EQUAL("state", type_of(state).c_str());
  STRCMP_EQUAL(("ann" + replacement).c_str(), state["players"]["x"].get<std::string>().c_str());
  STRCMP_EQUAL("spectator", state["role"].get<std::string>().c_str());
  // A seat from before tokens goes to its nick's next connection, with a token.
  auto bob = open(client, server.port(), "/game/old?name=bob");
  auto seat = next_json(*bob);
  STRCMP_EQUAL("seat", type_of(seat).c_str());
  STRCMP_EQUAL("o", seat["seat"].get<std::string>().c_str());
  LONGS_EQUAL(32, examples::string_at(seat, "token").value_or("").size());

  server.restart();
  WsTestClient again;
  auto eve = open(again, server.port(), "/chat/old?name=eve");
  LONGS_EQUAL(3, next_json(*eve)["messages"].size());
}

TEST(ExamplesHostile, GameRefusesNicksThatAreNotNames) {
  ExampleServer server;
  WsTestClient client;
  for (const char* path : {"/game/nicks?name=%ff", "/game/nicks?name=%7f",
                           "/game/nicks?name=123456789012345678901234567890123"})
    check_refused(client, server.port(), path);
  // Nobody took a seat.
  auto ann = open(client, server.port(), "/game/nicks?name=ann");
  STRCMP_EQUAL("seat", type_of(next_json(*ann)).c_str());
  auto state = next_json(*ann);
  STRCMP_EQUAL("x", state["role"].get<std::string>().c_str());
  CHECK_TRUE(state["players"]["o"].is_null());
}

TEST(ExamplesHostile, DeeplyNestedJsonIsAnErrorNotACrash) {
  ExampleServer server;
  WsTestClient client;
  auto ann = open(client, server.port(), "/chat/deep?name=ann");
  next(*ann);
  const std::size_t depth = 400'000;  // within the 1 MiB message limit
  ann->send(R"({"type":"say","id":"deep","text":)" + std::string(depth, '[') +
            std::string(depth, ']') + "}");
  auto error = next_json(*ann);
  STRCMP_EQUAL("error", type_of(error).c_str());
  STRCMP_EQUAL("deep", examples::string_at(error, "id").value_or("").c_str());
  ann->send(R"({"type":"say","text":)" + std::string(depth, '['));
  STRCMP_EQUAL("error", type_of(next_json(*ann)).c_str());
  ann->send(R"({"type":"say","text":"fine","id":"1"})");
  STRCMP_EQUAL("message", type_of(next_json(*ann)).c_str());
}
