// The server process killed with SIGKILL while 1000 actors write in
// write_through mode: after a restart, every change that was acknowledged
// is there. The runtime runs in a child process: this suite's own binary,
// re-executed to run only the SigkillChild test, which is a no-op unless
// TROUPE_SIGKILL_DIR is set. Each actor reports an acknowledged value on a
// pipe only after its commit returned; the parent kills the child once
// enough acknowledgements came, then checks the FileStore directory.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"
#include "test/persistence/support.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

constexpr int actor_count = 1000;

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n)
};

std::string actor_name(int i) {
  return "writer-" + std::to_string(i);
}

}  // namespace

TEST_GROUP(SigkillChild){};

// The child: writes until it is killed. Never returns when it runs for real.
TEST(SigkillChild, WriteUntilKilled) {
  const char* dir = std::getenv("TROUPE_SIGKILL_DIR");
  const char* fd_text = std::getenv("TROUPE_SIGKILL_FD");
  if (!dir || !fd_text) return;
  const int fd = std::atoi(fd_text);
  auto env = StoreEnv::file(dir);
  for (int i = 0; i < actor_count; ++i) {
    env->rt.spawn(
        [&env, fd, i](Process& self) -> Proc {
          PersistentState<Count> state(*env->actors, actor_name(i));
          co_await state.load(self);
          for (;;) {
            ++state.mutate().n;
            co_await state.commit_or_exit(self);
            // One short write() on a pipe is atomic: lines never interleave.
            std::string line = std::to_string(i) + " " + std::to_string(state->n) + "\n";
            if (::write(fd, line.data(), line.size()) < 0) std::_Exit(3);
          }
        },
        {.placement = Placement::spread});
  }
  for (;;) ::pause();  // until SIGKILL
}

TEST_GROUP(Sigkill){};

TEST(Sigkill, EveryAcknowledgedChangeSurvivesASigkillOfTheServerProcess) {
  TempDir dir;
  int fds[2];
  CHECK_EQUAL(0, ::pipe(fds));
  // Everything the child needs is built before fork(): between fork and
  // exec a child of a threaded process may not allocate (another thread may
  // have held the allocator's lock).
  std::vector<std::string> env_strings = {"TROUPE_SIGKILL_DIR=" + dir.path(),
                                          "TROUPE_SIGKILL_FD=" + std::to_string(fds[1])};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe", arg0[] = "persistence_tests", sg[] = "-sg",
       group[] = "SigkillChild";
  char* argv[] = {arg0, sg, group, nullptr};
  pid_t child = ::fork();
  CHECK(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    ::execve(exe, argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);

  // Read acknowledgements until enough came (or 20 s passed), then kill.
  std::map<int, long> acked;
  std::size_t lines = 0;
  std::string pending;
  auto consume = [&](const char* data, std::size_t size) {
    pending.append(data, size);
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      int id = 0;
      long n = 0;
      if (std::sscanf(pending.c_str(), "%d %ld", &id, &n) == 2) acked[id] = std::max(acked[id], n);
      pending.erase(0, nl + 1);
      ++lines;
    }
  };
  const auto end = std::chrono::steady_clock::now() + 20s;
  char buffer[4096];
  while (lines < 3 * actor_count && std::chrono::steady_clock::now() < end) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 1000) == 0) continue;  // re-check the deadline
    ssize_t got = ::read(fds[0], buffer, sizeof buffer);
    if (got <= 0) break;
    consume(buffer, static_cast<std::size_t>(got));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    consume(buffer, static_cast<std::size_t>(got));  // written before the kill
  ::close(fds[0]);
  UT_PRINT(("acknowledged changes: " + std::to_string(lines) + " by " +
            std::to_string(acked.size()) + " actors")
               .c_str());
  CHECK(lines >= static_cast<std::size_t>(actor_count));

  // The restarted server: every actor's stored count covers its last ack.
  auto env = StoreEnv::file(dir.path());
  int missing = 0;
  std::string first_missing;
  CHECK_TRUE(run_process(
      env->rt,
      [&](Process& self) -> Task<> {
        for (auto [id, n] : acked) {
          PersistentState<Count> state(*env->actors, actor_name(id));
          co_await state.load(self);
          if (state->n < n && missing++ == 0)
            first_missing = actor_name(id) + " stored " + std::to_string(state->n) +
                            ", acknowledged " + std::to_string(n);
        }
      },
      60s));
  CHECK_TEXT(missing == 0, first_missing.c_str());
}
