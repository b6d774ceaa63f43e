// The example chat room (examples/server/chat.hpp) under SessionHarness:
// no gateway socket, no wall clock, the same code path as in production.
// The worked example of docs/testing.md, "Testing sessions without sockets".

#include <CppUTest/TestHarness.h>

#include <string>

#include "examples/server/chat.hpp"
#include "persist/memory_store.hpp"
#include "testing/cpputest.hpp"
#include "testing/session_harness.hpp"

using namespace std::chrono_literals;
using troupe::MemoryStore;
using troupe::testing::Client;
using troupe::testing::SessionHarness;
using troupe::testing::TestRuntime;

namespace {

// [docs:chat-fixture]
// The next frame `c` gets, which must be a JSON object of type `type`.
examples::Json expect(Client& c, const std::string& type) {
  auto frame = examples::parse_object(c.expect_frame(
      [&](const std::string& text) {
        auto json = examples::parse_object(text);
        return json && examples::string_at(*json, "type") == type;
      },
      type));
  return *frame;
}

std::string say(const std::string& text, const std::string& id) {
  return examples::to_text(examples::Json{{"type", "say"}, {"text", text}, {"id", id}});
}

// A room of the example server, as main.cpp routes it, its history in a
// MemoryStore on the simulation's loop.
struct ChatFixture {
  TestRuntime t;
  MemoryStore store{t.loop()};
  SessionHarness<examples::ChatRoom> room{
      t,
      "chat/lobby",
      [] { return std::make_unique<examples::ChatRoom>(/*demo_faults=*/false); },
      {.route = {.idle_timeout = 5min}, .store = &store}};

  // A client joins as `nick`; its first frame is the room's history.
  Client& join(const std::string& nick) {
    Client& c = room.connect({.query = {{"name", nick}}});
    expect(c, "history");
    return c;
  }
};

// [/docs:chat-fixture]

}  // namespace

TEST_GROUP(ChatRoom){};

// [docs:chat-broadcast]
TEST(ChatRoom, TwoClientsJoinAndAMessageReachesBoth) {
  ChatFixture f;
  Client& ada = f.join("ada");
  Client& bob = f.join("bob");
  STRCMP_EQUAL("bob", expect(ada, "join")["name"].get<std::string>().c_str());

  ada.send(say("hello", "m1"));
  for (Client* c : {&ada, &bob}) {
    auto m = expect(*c, "message");
    STRCMP_EQUAL("ada", m["from"].get<std::string>().c_str());
    STRCMP_EQUAL("hello", m["text"].get<std::string>().c_str());
  }
  // Acknowledged once durable, after the broadcast.
  STRCMP_EQUAL("m1", expect(ada, "ack")["id"].get<std::string>().c_str());
  bob.expect_no_frame();
}
// [/docs:chat-broadcast]

// [docs:chat-leave]
TEST(ChatRoom, AClientThatLeavesMidConversationIsSeenLeaving) {
  ChatFixture f;
  Client& ada = f.join("ada");
  Client& bob = f.join("bob");
  expect(ada, "join");
  bob.send(say("brb", "b1"));
  expect(ada, "message");
  bob.disconnect();  // bob's client goes away here

  STRCMP_EQUAL("bob", expect(ada, "leave")["name"].get<std::string>().c_str());
  ada.send(say("bye bob", "a1"));
  expect(ada, "message");
  expect(ada, "ack");
  ada.expect_no_frame();
  CHECK_TRUE(f.room.alive());
}
// [/docs:chat-leave]

// [docs:chat-idle]
TEST(ChatRoom, TheRoomStopsWhenIdleAfterItsTimeout) {
  ChatFixture f;
  Client& ada = f.join("ada");
  ada.disconnect();
  f.t.advance(5min - 1ms);  // virtual time: no waiting
  CHECK_TRUE(f.room.alive());
  f.t.advance(1ms);
  CHECK_FALSE(f.room.alive());
}
// [/docs:chat-idle]

// [docs:chat-crash]
TEST(ChatRoom, ACrashRestartsTheRoomAndItsHistorySurvives) {
  ChatFixture f;
  Client& ada = f.join("ada");
  ada.send(say("remember me", "m1"));
  expect(ada, "message");
  expect(ada, "ack");

  f.room.crash();
  // The gateway restarts the room and hands ada's connection over: the new
  // incarnation loaded the history from the store and sends it again.
  auto history = expect(ada, "history")["messages"];
  LONGS_EQUAL(1, history.size());
  STRCMP_EQUAL("remember me", history[0]["text"].get<std::string>().c_str());
  CHECK_TRUE(ada.open());

  Client& cat = f.room.connect({.query = {{"name", "cat"}}});
  STRCMP_EQUAL("remember me",
               expect(cat, "history")["messages"][0]["text"].get<std::string>().c_str());
}
// [/docs:chat-crash]

// [docs:chat-disconnect-after-send]
TEST(ChatRoom, AMessageSentJustBeforeItsClientLeftIsStoredAndBroadcast) {
  ChatFixture f;
  Client& ada = f.join("ada");
  Client& bob = f.join("bob");
  expect(ada, "join");
  bob.send(say("last words", "b1"));
  bob.disconnect();  // gone before the room has read the frame

  // The room handles the frame, then the close: ada sees both, in order.
  STRCMP_EQUAL("last words", expect(ada, "message")["text"].get<std::string>().c_str());
  expect(ada, "leave");
  // Bob's ack had nowhere to go; the message is in the history all the same.
  LONGS_EQUAL(1, bob.frames().size());
  Client& dan = f.room.connect({.query = {{"name", "dan"}}});
  STRCMP_EQUAL("last words",
               expect(dan, "history")["messages"][0]["text"].get<std::string>().c_str());
}
// [/docs:chat-disconnect-after-send]

TEST(ChatRoom, ARetriedMessageIsStoredOnceAndAcknowledgedAgain) {
  ChatFixture f;
  Client& ada = f.join("ada");
  ada.send(say("once", "m1"));
  expect(ada, "message");
  expect(ada, "ack");
  ada.send(say("once", "m1"));  // the client did not hear the ack and retries
  expect(ada, "ack");
  ada.expect_no_frame();
}

TEST(ChatRoom, ANickThatIsNotValidIsClosedWith1008AndNeverJoins) {
  ChatFixture f;
  Client& ada = f.join("ada");
  Client& bad = f.room.connect({.query = {{"name", std::string(33, 'x')}}});
  LONGS_EQUAL(troupe::close_code::policy_violation, bad.expect_closed().code);
  ada.expect_no_frame();  // neither a join nor a leave
}
