#pragma once
// For the benchmarks: a redis-server of their own on a free loopback port,
// without persistence, in a temporary directory; ready once it answers
// PING; stopped (and its directory removed) with the object, or killed
// with the benchmark if that dies first.

#include <arpa/inet.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace troupe::bench {

class RedisChild {
 public:
  RedisChild() {
    port_ = free_port();
    char tmpl[] = "/tmp/troupe-bench-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) fail("no temporary directory");
    dir_ = tmpl;
    std::string p = std::to_string(port_), log = dir_ + "/redis.log";
    pid_ = ::fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", dir_.c_str(), "--logfile", log.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Polling: a process that cannot signal its readiness otherwise.
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10); !answers_ping();
         std::this_thread::sleep_for(std::chrono::milliseconds(2)))
      if (std::chrono::steady_clock::now() > end) fail("redis-server did not answer PING in 10 s");
  }
  ~RedisChild() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  RedisChild(const RedisChild&) = delete;
  RedisChild& operator=(const RedisChild&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  [[noreturn]] static void fail(const char* why) {
    std::fprintf(stderr, "bench: %s\n", why);
    std::exit(1);
  }
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      fail("no free loopback port");
    ::close(fd);
    return ntohs(addr.sin_port);
  }
  bool answers_ping() const {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeval{1, 0});
    bool ok = false;
    if (c && !c->err)
      if (auto* r = static_cast<redisReply*>(redisCommand(c, "PING"))) {
        ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
      }
    if (c) redisFree(c);
    return ok;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace troupe::bench
