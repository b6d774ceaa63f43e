// The Troupe server for ../shared/bench-peers/ws (make bench-ws): sessions
// behind the gateway, one per room.
//   ws://127.0.0.1:PORT/echo/<room>       every text frame back to its sender
//   ws://127.0.0.1:PORT/broadcast/<room>  every text frame to every member, sender included
//   ws://127.0.0.1:PORT/spin/<room>       a frame "N" (decimal milliseconds, at most 60000):
//                                         burns the CPU N ms without suspending, then
//                                         echoes it; anything else gets an error text back
//                                         (make bench-isolation, issue #17)
//
//   ws_server [--port=N] [--schedulers=N] [--isolation=on|off]   (PORT from the environment too)
//             [--watchdog=on|off] [--io-schedulers=N]   (override one half of --isolation)
//             [--tls-cert=FILE --tls-key=FILE]   (serve wss:// only; bench/tls.sh)
// Schedulers default to the CPUs this process may run on (the kit pins it).
// --isolation=off turns the watchdog off and puts the sockets back on the
// runtime's schedulers (io_schedulers = 0): the shape before issue #17, to
// measure what the isolation costs and what it buys.

#include <sched.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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

// A CPU-heavy request: a loop with no suspension point, as a document diff or
// a game tick would be. Its scheduler is held for the whole time.
struct Spin : Session<Spin> {
  static constexpr long max_ms = 60000;

  Task<> on_message(Connection& c, std::string_view data, MessageKind kind) {
    long ms = -1;
    auto [end, ec] = std::from_chars(data.data(), data.data() + data.size(), ms);
    if (ec != std::errc{} || end != data.data() + data.size() || ms < 0 || ms > max_ms) {
      c.send("error: expected a number of milliseconds in [0, 60000]", MessageKind::text);
      co_return;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
    }
    c.send(data, kind);
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
  std::string isolation = args.str("isolation", "on");
  if (isolation != "on" && isolation != "off") {
    std::fprintf(stderr, "ws_server: --isolation=on|off, not %s\n", isolation.c_str());
    return 2;
  }

  set_supervisor_log(nullptr);
  RuntimeOptions options{.schedulers = schedulers};
  options.watchdog.enabled = isolation == "on";
  // The two halves of the isolation apart, to measure each (bench/README.md).
  if (auto w = args.str("watchdog", ""); !w.empty()) options.watchdog.enabled = w == "on";
  Runtime rt(options);
  ws::Options server;
  server.port = static_cast<std::uint16_t>(port);
  server.tls_cert_file = args.str("tls-cert");
  server.tls_key_file = args.str("tls-key");
  if (server.tls_cert_file.empty() != server.tls_key_file.empty()) {
    std::fprintf(stderr, "ws_server: --tls-cert and --tls-key go together\n");
    return 2;
  }
  GatewayOptions gateway_options{.server = server};
  gateway_options.io_schedulers = isolation == "on" ? 1 : 0;
  if (args.num("io-schedulers", -1) >= 0)
    gateway_options.io_schedulers = static_cast<unsigned>(args.num("io-schedulers", 1));
  Gateway gateway(rt, gateway_options);
  RouteOptions kind{.idle_timeout = std::chrono::seconds(60)};
  kind.limits.max_connections_per_name = 100000;
  gateway.route(
      "/echo", [] { return std::make_unique<Echo>(); }, kind);
  gateway.route(
      "/broadcast", [] { return std::make_unique<Broadcast>(); }, kind);
  gateway.route(
      "/spin", [] { return std::make_unique<Spin>(); }, kind);
  if (auto err = gateway.start()) {
    std::fprintf(stderr, "ws_server: cannot listen on port %ld: %s\n", port, err.message().c_str());
    return 1;
  }
  std::fprintf(
      stderr, "ws_server: listening on 127.0.0.1:%u (%s) with %u schedulers, isolation %s\n",
      gateway.port(), server.tls_cert_file.empty() ? "ws" : "wss", schedulers, isolation.c_str());
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
