// File descriptors: a server run in a child process under a small
// RLIMIT_NOFILE. Out of descriptors it must not spin on its listening socket,
// must answer (503) or refuse new clients promptly, and must serve again once
// descriptors come back; by default max_connections stays below the limit, so
// "server full" (503) comes first.

#include <CppUTest/TestHarness.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/net/harness.hpp"
#include "test/net/raw_client.hpp"
#include "test/support/sanitizers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// An echo server in a forked child with RLIMIT_NOFILE set to `nofile`. It
// stops when the parent closes its end of the control pipe (or after 30 s).
class ChildServer {
 public:
  ChildServer(rlim_t nofile, ws::Options options) {
    int ready[2], control[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(control, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(control[1]);
      ::alarm(30);
      rlimit limit{nofile, nofile};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(2);
      {
        // Two loops: each lws context sizes its table by the whole limit, so
        // together they can run the process out of descriptors.
        TestServer server(options, 2);
        const std::uint16_t port = server.port();
        if (::write(ready[1], &port, sizeof port) != sizeof port) ::_exit(3);
        char byte;
        while (::read(control[0], &byte, 1) > 0) {
        }
        server.stop();
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(control[0]);
    control_ = control[1];
    if (pid_ > 0 && ::read(ready[0], &port_, sizeof port_) != sizeof port_) port_ = 0;
    ::close(ready[0]);
  }

  ~ChildServer() {
    if (control_ >= 0) ::close(control_);
    if (pid_ <= 0) return;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  std::uint16_t port() const { return port_; }
  std::size_t open_fds() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd"))
      ++n;
    return n;
  }

  // User plus system CPU time of the child, in clock ticks.
  long cpu_ticks() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    long utime = 0, stime = 0;
    // After the command: state is field 3; utime and stime are 14 and 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stol(field);
      if (i == 15) stime = std::stol(field);
    }
    return utime + stime;
  }

 private:
  pid_t pid_ = -1;
  int control_ = -1;
  std::uint16_t port_ = 0;
};

// Connections that never send a request: each holds one of the server's
// descriptors until the handshake timeout.
std::vector<RawClient> idle_connections(std::uint16_t port, int count) {
  std::vector<RawClient> clients(static_cast<std::size_t>(count));
  for (auto& client : clients) client.connect(port);
  return clients;
}

bool echoes(std::uint16_t port) {
  RawClient raw;
  if (!raw.connect(port) || raw.upgrade("/echo/back", {}, 1000ms) != 101) return false;
  raw.send_frame(opcode::text, "back");
  const auto frame = raw.read_frame(2s);
  return frame && frame->payload == "back";
}

}  // namespace

TEST_GROUP(ResourceFd) {
  Watchdog watchdog{40s};
};

// Before: EMFILE on accept was ignored and the level-triggered listening
// socket woke the loop again at once: 100% CPU, and new clients got nothing.
// Forks a child that starts threads: ignored under TSan.
TSAN_IGNORE_TEST(ResourceFd, OutOfDescriptorsTheServerNeitherSpinsNorLeavesClientsWaiting) {
  ws::Options options = quick_options();
  options.handshake_timeout = 20s;  // the idle connections hold their descriptors
  ChildServer child(64, options);
  CHECK_TRUE(child.port() != 0);
  CHECK_TRUE(echoes(child.port()));

  auto idle = idle_connections(child.port(), 90);
  // No event crosses the process boundary: watch its descriptor table fill.
  const auto full_by = std::chrono::steady_clock::now() + 5s;
  while (child.open_fds() < 60 && std::chrono::steady_clock::now() < full_by)
    std::this_thread::sleep_for(10ms);
  CHECK_TRUE(child.open_fds() >= 60);
  // Exhausted once a new client is no longer served; each attempt is bounded.
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long before = child.cpu_ticks();
  std::this_thread::sleep_for(1s);  // a measuring window, not a wait for an event
  const long after = child.cpu_ticks();
  // Both readings must be real (-1: the child's stat is gone), or a dead
  // child would pass as one that does not spin.
  CHECK_TRUE(before >= 0 && after >= before);
  const long spent = after - before;
  std::fprintf(stderr, "fd exhaustion: %ld of %ld ticks in 1 s\n", spent, ticks_per_second);
  CHECK_TRUE(spent < ticks_per_second / 4);

  // A newcomer gets a 503 or a closed connection, promptly, not silence.
  // Newcomers get an answer promptly, never silence: 101 while a descriptor
  // happens to be free (lws may have refused one of the idle connections),
  // then 503 or a closed connection once there is none.
  std::vector<RawClient> newcomers;
  bool turned_away = false;
  for (int i = 0; i < 10 && !turned_away; ++i) {
    RawClient newcomer;
    CHECK_TRUE(newcomer.connect(child.port()));
    const auto asked = std::chrono::steady_clock::now();
    const int status = newcomer.upgrade("/echo/late-" + std::to_string(i), {}, 3000ms);
    if (status == 101) {
      newcomers.push_back(std::move(newcomer));
      continue;
    }
    if (status == 0) {
      CHECK_TRUE(std::chrono::steady_clock::now() - asked < 2500ms);  // EOF, not a timeout
    } else {
      CHECK_EQUAL(503, status);
    }
    turned_away = true;
  }
  CHECK_TRUE(turned_away);
  newcomers.clear();

  idle.clear();  // the descriptors come back
  bool served = false;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!served && std::chrono::steady_clock::now() < until) served = echoes(child.port());
  CHECK_TRUE(served);
}

// Before: max_connections was 100,000 whatever the descriptor limit, so
// "server full" was never reached before the descriptors ran out.
// Forks a child that starts threads: ignored under TSan.
TSAN_IGNORE_TEST(ResourceFd, DefaultMaxConnectionsIsBelowTheDescriptorLimitAndAnswers503) {
  ChildServer child(128, quick_options());
  CHECK_TRUE(child.port() != 0);
  std::vector<RawClient> open;
  int status = 0;
  for (int i = 0; i < 200 && status != 503; ++i) {
    RawClient raw;
    if (!raw.connect(child.port())) break;
    status = raw.upgrade("/echo/many-" + std::to_string(i), {}, 2000ms);
    if (status == 101) open.push_back(std::move(raw));
  }
  CHECK_EQUAL(503, status);
  CHECK_TRUE(open.size() < 128);
  CHECK_TRUE(open.size() >= 32);
  open.clear();
  bool served = false;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!served && std::chrono::steady_clock::now() < until) served = echoes(child.port());
  CHECK_TRUE(served);
}
