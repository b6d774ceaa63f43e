// The example apps' sessions, driven through a real gateway by WebSocket
// clients: the chat protocol (history, durable acks, presence, errors, a
// crash on purpose) and the counter, on the embedded file store.

#include <CppUTest/TestHarness.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "examples/server/chat.hpp"
#include "examples/server/counter.hpp"
#include "net/gateway/gateway.hpp"
#include "persist/file_store.hpp"
#include "persist/persistence.hpp"
#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/net/stored_gateway.hpp"
#include "test/net/ws_client.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct ExampleServer {
  StoredGateway stored{[](Gateway& g, Persistence&) {
    g.route("/chat", [] { return std::make_unique<examples::ChatRoom>(true); });
    g.route("/counter", [] { return std::make_unique<examples::Counter>(); });
  }};
  void start_gateway() { stored.start(); }
  void stop_gateway() { stored.stop(); }
};

std::string next(ClientConnection& c) {
  auto m = c.next_message(5s);
  return m ? m->data : std::string("<nothing>");
}

}  // namespace

TEST_GROUP(Examples) {
  Watchdog watchdog{60s};
};

TEST(Examples, ChatProtocolWithHistoryAcksPresenceAndErrors) {
  ExampleServer server;
  WsTestClient client;
  auto ann = client.connect(server.stored.port(), "/chat/lobby?name=ann");
  CHECK_TRUE(ann->wait_open(3s));
  STRCMP_EQUAL(R"({"type":"history","messages":[]})", next(*ann).c_str());
  auto bob = client.connect(server.stored.port(), "/chat/lobby?name=bob");
  CHECK_TRUE(bob->wait_open(3s));
  STRCMP_EQUAL(R"({"type":"history","messages":[]})", next(*bob).c_str());
  STRCMP_EQUAL(R"({"type":"join","name":"bob"})", next(*ann).c_str());

  ann->send(R"({"type":"say","text":"hi \"bob\"","id":"7"})");
  std::string message = next(*ann);
  CHECK_TRUE(message.find(R"("type":"message","from":"ann","text":"hi \"bob\"")") == 1);
  STRCMP_EQUAL(R"({"type":"ack","id":"7"})", next(*ann).c_str());
  STRCMP_EQUAL(message.c_str(), next(*bob).c_str());

  bob->send("not json");
  CHECK_TRUE(next(*bob).find(R"("type":"error")") != std::string::npos);

  bob->close(1000, "bye");
  STRCMP_EQUAL(R"({"type":"leave","name":"bob"})", next(*ann).c_str());
}

TEST(Examples, ChatHistorySurvivesACrashAndAServerRestart) {
  ExampleServer server;
  {
    WsTestClient client;
    auto ann = client.connect(server.stored.port(), "/chat/keep?name=ann");
    CHECK_TRUE(ann->wait_open(3s));
    next(*ann);  // empty history
    ann->send(R"({"type":"say","text":"one","id":"1"})");
    next(*ann);
    STRCMP_EQUAL(R"({"type":"ack","id":"1"})", next(*ann).c_str());
    auto bob = client.connect(server.stored.port(), "/chat/keep?name=bob");
    CHECK_TRUE(bob->wait_open(3s));
    CHECK_TRUE(next(*bob).find(R"("text":"one")") != std::string::npos);  // history
    next(*ann);                                                           // bob joined
    ann->send(R"({"type":"crash"})");
    // The crash's requester hears of it; bob stays connected, and the
    // restarted room sends him its history again.
    auto closed = ann->wait_closed(5s);
    CHECK_TRUE(closed.has_value());
    LONGS_EQUAL(1011, closed->code);
    std::string history = next(*bob);
    CHECK_TRUE(history.find(R"("text":"one")") != std::string::npos);
  }
  server.stop_gateway();
  server.start_gateway();
  WsTestClient client;
  auto again = client.connect(server.stored.port(), "/chat/keep?name=ann");
  CHECK_TRUE(again->wait_open(3s));
  CHECK_TRUE(next(*again).find(R"("text":"one")") != std::string::npos);
}

TEST(Examples, CounterAcknowledgesDurableIncrementsAndTellsEveryone) {
  ExampleServer server;
  WsTestClient client;
  auto a = client.connect(server.stored.port(), "/counter/visits");
  auto b = client.connect(server.stored.port(), "/counter/visits");
  CHECK_TRUE(a->wait_open(3s) && b->wait_open(3s));
  STRCMP_EQUAL(R"({"type":"value","value":0})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"value","value":0})", next(*b).c_str());
  a->send(R"({"type":"incr","by":5,"id":"x"})");
  STRCMP_EQUAL(R"({"type":"value","value":5})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"ack","id":"x"})", next(*a).c_str());
  STRCMP_EQUAL(R"({"type":"value","value":5})", next(*b).c_str());
  a->send(R"({"type":"decr"})");
  CHECK_TRUE(next(*a).find(R"("type":"error")") != std::string::npos);
}

TEST(Examples, MetricsReportSnapshotWritesAndUnsavedState) {
  ExampleServer server;
  WsTestClient client;
  auto ann = client.connect(server.stored.port(), "/chat/metered?name=ann");
  CHECK_TRUE(ann->wait_open(3s));
  next(*ann);  // history
  ann->send(R"({"type":"say","text":"counted","id":"1"})");
  next(*ann);
  STRCMP_EQUAL(R"({"type":"ack","id":"1"})", next(*ann).c_str());  // written by now

  auto [status, body] = http_get(server.stored.port(), "/metrics");
  LONGS_EQUAL(200, status);
  STRCMP_CONTAINS("troupe_snapshot_writes_total 1\n", body.c_str());
  STRCMP_CONTAINS("troupe_snapshot_write_failures_total 0\n", body.c_str());
  STRCMP_CONTAINS("troupe_snapshot_write_seconds_count 1\n", body.c_str());
  STRCMP_CONTAINS("troupe_unsaved_actors 0\n", body.c_str());
  STRCMP_CONTAINS("troupe_session_pending_frames{route=\"/chat\"} 0\n", body.c_str());
  STRCMP_CONTAINS("troupe_sessions{route=\"/chat\"} 1\n", body.c_str());
}

// --- the README's tutorial is the examples' code -------------------------------------------

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

// The lines between "[tutorial:NAME]" and "[/tutorial:NAME]", common indent removed.
std::string source_snippet(const std::string& path, const std::string& name) {
  std::vector<std::string> body;
  bool on = false;
  for (const auto& line : lines_of(read_all(path))) {
    if (line.find("[/tutorial:" + name + "]") != std::string::npos) break;
    if (on) body.push_back(line);
    if (line.find("[tutorial:" + name + "]") != std::string::npos) on = true;
  }
  std::size_t indent = std::string::npos;
  for (const auto& l : body)
    if (l.find_first_not_of(' ') != std::string::npos)
      indent = std::min(indent, l.find_first_not_of(' '));
  std::string out;
  for (const auto& l : body) out += (l.size() >= indent ? l.substr(indent) : l) + "\n";
  return out;
}

}  // namespace

TEST(Examples, TheReadmeTutorialIsTheExamplesCode) {
  auto readme = lines_of(read_all("README.md"));
  int checked = 0;
  for (std::size_t i = 0; i < readme.size(); ++i) {
    const std::string tag = "<!-- tutorial:";
    if (readme[i].rfind(tag, 0) != 0) continue;
    std::stringstream header(readme[i].substr(tag.size()));
    std::string name, path;
    header >> name >> path;
    std::string shown;
    for (std::size_t j = i + 2; j < readme.size() && readme[j] != "```"; ++j)
      shown += readme[j] + "\n";
    STRCMP_EQUAL(source_snippet(path, name).c_str(), shown.c_str());
    ++checked;
  }
  LONGS_EQUAL(4, checked);
}
