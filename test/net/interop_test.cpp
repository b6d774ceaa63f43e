// Interoperability with a client written outside this project: Python's
// websockets library (Debian's python3-websockets), run as a subprocess.

#include <CppUTest/TestHarness.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "test/net/harness.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// Debian's interpreter first: another python3 on PATH may lack websockets.
std::string python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string script_path() {
  std::string here = __FILE__;  // test/net/interop_test.cpp, relative to the repo root
  return here.substr(0, here.rfind('/') + 1) + "interop_client.py";
}

}  // namespace

TEST_GROUP(Interop) {
  Watchdog watchdog{40s};
};

TEST(Interop, PythonWebsocketsClientTalksToTheServer) {
  TestServer server(quick_options());
  const std::string command = "timeout 30 " + python() + " " + script_path() + " " +
                              std::to_string(server.port()) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  CHECK_TRUE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL(("interop client: " + output).c_str());
  STRCMP_CONTAINS("OK", output.c_str());

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
