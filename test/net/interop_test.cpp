// Interoperability with a client written outside this project: Python's
// websockets library (Debian's python3-websockets), run as a subprocess.

#include <CppUTest/TestHarness.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Debian's interpreter first: another python3 on PATH may lack websockets.
std::string python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string script_path(const std::string& script) {
  std::string here = __FILE__;  // test/net/interop_test.cpp, relative to the repo root
  return here.substr(0, here.rfind('/') + 1) + script;
}

// Runs a Python script (bounded in time) and fails the test unless it exits
// 0 and prints OK.
void run_python(const std::string& script, const std::string& args, int seconds) {
  const std::string command = "timeout " + std::to_string(seconds) + " " + python() + " " +
                              script_path(script) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  CHECK_TRUE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL((script + ": " + output).c_str());
  STRCMP_CONTAINS("OK", output.c_str());
}

}  // namespace

TEST_GROUP(Interop) {
  Watchdog watchdog{80s};
};

TEST(Interop, PythonWebsocketsClientTalksToTheServer) {
  TestServer server(quick_options());
  run_python("interop_client.py", std::to_string(server.port()), 30);

  // What the server saw of it.
  const auto open = server.handler().wait(Event::Kind::open, 3s);
  CHECK_TRUE(open.has_value());
  STRCMP_EQUAL("py-caf\xc3\xa9", open->request.name.c_str());
  const auto closed = server.handler().wait(Event::Kind::close, 3s, open->id);
  CHECK_TRUE(closed.has_value());
  CHECK_EQUAL(1000, closed->code);
  STRCMP_EQUAL("py done", closed->data.c_str());
  CHECK_TRUE(server.stop());
}

// The example server binary (what `make run` serves) in its Redis mode, on a
// real redis-server, through the gateway: chat, a crash of the room under
// two live clients, a restart of the server. $BUILD names the build
// directory (make test sets it).
TEST(Interop, PythonClientChatsThroughTheExampleServerOnRedis) {
  const char* build = std::getenv("BUILD");
  const std::string server = std::string(build && *build ? build : "build") + "/examples/server";
  CHECK_TEXT(::access(server.c_str(), X_OK) == 0, (server + " is not built").c_str());
  run_python("interop_gateway_client.py", server + " examples/server/www", 60);
}

// A Redis outage under load: clients of the example server's counters keep
// sending through it; every request is answered (ack, error, close or
// refusal), all serve again once Redis is back without a restart of the
// server, and the counters hold exactly the acknowledged increments. A
// short outage here; `make chaos` runs 100 clients through 30 s.
TEST(Interop, ARedisOutageUnderLoadEndsWithEveryRequestAnsweredAndNothingLost) {
  const char* build = std::getenv("BUILD");
  const std::string server = std::string(build && *build ? build : "build") + "/examples/server";
  CHECK_TEXT(::access(server.c_str(), X_OK) == 0, (server + " is not built").c_str());
  const char* clients = std::getenv("TROUPE_OUTAGE_CLIENTS");
  const char* seconds = std::getenv("TROUPE_OUTAGE_SECONDS");
  run_python("outage_client.py",
             server + " examples/server/www " + (clients ? clients : "40") + " " +
                 (seconds ? seconds : "3"),
             70);
}
