// The Troupe server for ../shared/bench-peers/ws (make bench-ws): sessions
// behind the gateway, one per room.
//   ws://127.0.0.1:PORT/echo/<room>       every text frame back to its sender
//   ws://127.0.0.1:PORT/broadcast/<room>  every text frame to every member, sender included
//
//   ws_server [--port=N] [--schedulers=N]   (PORT from the environment too)
// Schedulers default to the CPUs this process may run on (the kit pins it).

#include <sched.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "bench/bench_args.hpp"
#include "net/gateway/gateway.hpp"
#include "net/ws/server.hpp"
#include "supervisors/events.hpp"
#include "troupe.hpp"

using namespace troupe;

namespace {

struct Echo : Session<Echo> {
  Task<> on_message(Connection& c, std::string_view data, MessageKind kind) {
    c.send(data, kind);
    co_return;
  }
};

struct Broadcast : Session<Broadcast> {
  Task<> on_message(Connection&, std::string_view data, MessageKind kind) {
    broadcast(data, std::nullopt, kind);
    co_return;
  }
};

unsigned allowed_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return static_cast<unsigned>(CPU_COUNT(&set));
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const char* env_port = std::getenv("PORT");
  long port = args.num("port", env_port ? std::atol(env_port) : 9200);
  auto schedulers = static_cast<unsigned>(args.num("schedulers", allowed_cpus()));

  set_supervisor_log(nullptr);
  Runtime rt({.schedulers = schedulers});
  ws::Options server;
  server.port = static_cast<std::uint16_t>(port);
  Gateway gateway(rt, {.server = server});
  RouteOptions kind{.idle_timeout = std::chrono::seconds(60)};
  kind.limits.max_connections_per_name = 100000;
  gateway.route(
      "/echo", [] { return std::make_unique<Echo>(); }, kind);
  gateway.route(
      "/broadcast", [] { return std::make_unique<Broadcast>(); }, kind);
  if (auto err = gateway.start()) {
    std::fprintf(stderr, "ws_server: cannot listen on port %ld: %s\n", port, err.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "ws_server: listening on 127.0.0.1:%u with %u schedulers\n", gateway.port(),
               schedulers);
  // Runs until SIGINT/SIGTERM (the kit kills the process group).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  gateway.stop();
  rt.shutdown();
  return 0;
}
