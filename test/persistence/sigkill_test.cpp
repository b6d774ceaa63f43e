// The server process killed with SIGKILL while 200 actors write in
// write_through mode: after a restart, every change that was acknowledged
// is there, and nothing beyond the one write each actor had in flight. The
// runtime runs in a child process: this suite's own binary re-executed to
// run the "sigkill-writer" child entry (test/support/child_entry.hpp). Each actor
// reports an acknowledged value on a pipe only after its commit returned;
// the parent kills the child once enough acknowledgements came (with every
// actor in the middle of its next write), then loads every actor from the
// store: each load must succeed (no torn snapshot) and give the acknowledged
// count or the one after it. Run against a FileStore and a RedisStore.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "test/persistence/support.hpp"
#include "test/support/child_entry.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

constexpr int actor_count = 200;
constexpr const char* store_variable = "TROUPE_SIGKILL_STORE";  // file:<dir> or redis:<url>
constexpr const char* fd_variable = "TROUPE_SIGKILL_FD";

struct Count {
  long n = 0;
  MSGPACK_DEFINE(n)
};

std::string actor_name(int i) {
  return "writer-" + std::to_string(i);
}

std::unique_ptr<StoreEnv> open_store(const std::string& spec) {
  if (spec.rfind("file:", 0) == 0) return StoreEnv::file(spec.substr(5));
  if (spec.rfind("redis:", 0) == 0) return StoreEnv::redis(spec.substr(6));
  return nullptr;
}

// The child: writes until it is killed; returns only on a setup error.
int write_until_killed() {
  const char* spec = std::getenv(store_variable);
  const char* fd_text = std::getenv(fd_variable);
  if (!spec || !fd_text) return 2;
  const int fd = std::atoi(fd_text);
  auto env = open_store(spec);
  if (!env) return 2;
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

const ChildEntry writer("sigkill-writer", &write_until_killed);

// The highest acknowledged count of each actor that reported one.
struct Acks {
  std::map<int, long> last;
  std::size_t lines = 0;
};

// Runs the writer child on `spec`, SIGKILLs it once `wanted` acknowledgements
// came (or after 20 s), and returns every acknowledgement it had written.
Acks run_writer_and_kill(const std::string& spec, std::size_t wanted) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe(fds));
  // Everything the child needs is built before fork(): between fork and
  // exec a child of a threaded process may not allocate (another thread may
  // have held the allocator's lock).
  std::vector<std::string> env_strings = {std::string(child_entry_variable) + "=sigkill-writer",
                                          std::string(store_variable) + "=" + spec,
                                          std::string(fd_variable) + "=" + std::to_string(fds[1])};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe", arg0[] = "persistence_tests";
  char* argv[] = {arg0, nullptr};
  pid_t child = ::fork();
  CHECK(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    ::execve(exe, argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);

  Acks acks;
  std::string pending;
  auto consume = [&](const char* data, std::size_t size) {
    pending.append(data, size);
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      int id = 0;
      long n = 0;
      if (std::sscanf(pending.c_str(), "%d %ld", &id, &n) == 2)
        acks.last[id] = std::max(acks.last[id], n);
      pending.erase(0, nl + 1);
      ++acks.lines;
    }
  };
  const auto end = std::chrono::steady_clock::now() + 20s;
  char buffer[4096];
  while (acks.lines < wanted && std::chrono::steady_clock::now() < end) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 1000) == 0) continue;  // re-check the bound
    ssize_t got = ::read(fds[0], buffer, sizeof buffer);
    if (got <= 0) break;  // the child is gone: its status below says why
    consume(buffer, static_cast<std::size_t>(got));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    FAIL(("the writer ended before the kill, status " + std::to_string(status)).c_str());
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    consume(buffer, static_cast<std::size_t>(got));  // written before the kill
  ::close(fds[0]);
  UT_PRINT(("acknowledged changes: " + std::to_string(acks.lines) + " by " +
            std::to_string(acks.last.size()) + " actors")
               .c_str());
  CHECK(acks.lines >= wanted);
  return acks;
}

// The restarted server: every actor loads (no torn or lost snapshot) and has
// its last acknowledged count, or the one after it whose write the kill
// interrupted after it reached the store.
void check_restart(StoreEnv& env, const Acks& acks) {
  int wrong = 0, ahead = 0;
  std::string first_wrong;
  CHECK_TRUE(run_process(
      env.rt,
      [&](Process& self) -> Task<> {
        for (int i = 0; i < actor_count; ++i) {
          auto it = acks.last.find(i);
          const long acked = it == acks.last.end() ? 0 : it->second;
          PersistentState<Count> state(*env.actors, actor_name(i));
          co_await state.load(self);  // exits the process if the snapshot is unusable
          if (state->n == acked + 1) ++ahead;
          if ((state->n < acked || state->n > acked + 1) && wrong++ == 0)
            first_wrong = actor_name(i) + " stored " + std::to_string(state->n) +
                          ", acknowledged " + std::to_string(acked);
        }
      },
      60s));
  UT_PRINT(
      ("actors whose in-flight write had reached the store: " + std::to_string(ahead)).c_str());
  CHECK_TEXT(wrong == 0, first_wrong.c_str());
}

}  // namespace

TEST_GROUP(Sigkill){};

TEST(Sigkill, EveryAcknowledgedChangeSurvivesASigkillOfTheServerProcessOnFileStore) {
  TempDir dir;
  auto acks = run_writer_and_kill("file:" + dir.path(), 3 * actor_count);
  auto env = StoreEnv::file(dir.path());
  check_restart(*env, acks);
}

TEST(Sigkill, EveryAcknowledgedChangeSurvivesASigkillOfTheServerProcessOnRedisStore) {
  RedisServer redis;
  CHECK_TRUE(redis.start());
  auto acks = run_writer_and_kill("redis:" + redis.url(), 3 * actor_count);
  auto env = StoreEnv::redis(redis.url());
  check_restart(*env, acks);
}
