#include "test/support/redis_server.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace troupe::test {

RedisServer::RedisServer(std::vector<std::string> extra)
    : port_(free_port()), extra_(std::move(extra)) {
  for (std::size_t i = 0; i + 1 < extra_.size(); ++i) {
    if (extra_[i] == "--requirepass") password_ = extra_[i + 1];
  }
}

RedisServer::~RedisServer() {
  kill();
}

bool RedisServer::start() {
  if (pid_ > 0) return true;
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path(),
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_.path() + "/redis.log"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers_ping()) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, bad args
      pid_ = -1;
      return false;
    }
    timespec pause{0, 2'000'000};  // between polls of a process we cannot be told about
    ::nanosleep(&pause, nullptr);
  }
  return false;
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  ::kill(pid_, SIGSTOP);
}
void RedisServer::resume() {
  ::kill(pid_, SIGCONT);
}

std::string RedisServer::command(const std::vector<std::string>& args, int db) const {
  timeval timeout{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (!c || c->err) {
    if (c) redisFree(c);
    return "(no connection)";
  }
  redisSetTimeout(c, timeout);
  auto run = [c](const char* format, const char* arg) {
    if (auto* r = static_cast<redisReply*>(redisCommand(c, format, arg))) freeReplyObject(r);
  };
  if (!password_.empty()) run("AUTH %s", password_.c_str());
  if (db != 0) run("SELECT %s", std::to_string(db).c_str());
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string text = "(no reply)";
  if (reply) {
    if (reply->type == REDIS_REPLY_INTEGER) {
      text = std::to_string(reply->integer);
    } else if (reply->str) {
      text.assign(reply->str, reply->len);
    } else {
      text = "(type " + std::to_string(reply->type) + ")";
    }
    freeReplyObject(reply);
  }
  redisFree(c);
  return text;
}

bool RedisServer::answers_ping() const {
  auto reply = command({"PING"});
  return reply == "PONG" || reply.starts_with("NOAUTH");
}

}  // namespace troupe::test
