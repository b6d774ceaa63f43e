#pragma once
// The one redis-server launcher of the suites and benchmarks: a real
// redis-server on a free loopback port, in a temporary directory, with
// persistence off, started and stopped by its owner. It dies with the
// owning process (PR_SET_PDEATHSIG), so a crashed suite leaves no server
// behind. Readiness is awaited by polling PING, bounded in time. Failures
// to set up (no free port, fork) throw std::runtime_error; no CppUTest
// here, so that benchmarks link it too.

#include <sys/types.h>

#include <string>
#include <vector>

#include "test/support/free_port.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

class RedisServer {
 public:
  // extra: further redis-server arguments, e.g. {"--requirepass", "secret"}.
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (again, on the same port) and waits until it answers
  // PING; false if it did not within 10 s.
  bool start();
  // SIGKILL, as a crash would; waits for the process to be gone.
  void kill();
  // SIGSTOP / SIGCONT: a server that accepts bytes but never answers.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Runs one command in database db on a fresh blocking connection
  // (authenticated with --requirepass if given); the reply as text.
  std::string command(const std::vector<std::string>& args, int db = 0) const;

 private:
  bool answers_ping() const;

  TempDir dir_{"redis"};
  int port_;
  std::vector<std::string> extra_;
  std::string password_;
  pid_t pid_ = -1;
};

}  // namespace troupe::test
