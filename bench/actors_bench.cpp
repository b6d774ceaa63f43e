// The actor workloads of ../shared/bench-peers/actors/README.md on Troupe:
// spawn, ring, pingpong and fan-in, one per run, each driven by a Troupe
// process. Prints one line per run in the kit's format (peer=troupe ...).
//
//   actors_bench --bench=spawn|ring|pingpong|fanin [--sched=N] [--n=N]
//                [--hops=N] [--per_sender=N] [--placement=local|spread]
//                [--watchdog=on|off]
// --watchdog=off turns the runtime's watchdog off (make bench-isolation
// measures what it costs); the line then says watchdog=off.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_args.hpp"
#include "troupe.hpp"

using namespace troupe;
using troupe::bench::Clock;

namespace {

struct Ready {};
struct GoMsg {};
struct Done {};
struct RingDone {};
struct StopMsg {};
struct PingMsg {
  Pid from;
};
struct PongMsg {};

using troupe::bench::seconds;

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      status >> kb;
      return kb;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

// Blocks the driver until only it is left: the children are really gone.
Task<> wait_until_alone(Process& self) {
  while (self.runtime().process_count() > 1) co_await self.yield();
}

void bench_spawn(Runtime& rt, long n, SpawnOptions where, const std::string& cfg) {
  double spawn_s = 0, ready_s = 0, teardown_s = 0, total_s = 0;
  long base = 0, alive = 0;
  rt.spawn([&](Process& self) -> Proc {
    std::vector<Pid> children;
    children.reserve(static_cast<std::size_t>(n));
    base = rss_kb();
    auto t0 = Clock::now();
    Pid driver = self.self();
    for (long i = 0; i < n; ++i)
      children.push_back(self.spawn(
          [driver](Process& c) -> Proc {
            c.send(driver, Ready{});
            co_await c.receive([](const GoMsg&) {});
            c.send(driver, Done{});
          },
          where));
    auto t1 = Clock::now();
    for (long i = 0; i < n; ++i) co_await self.receive([](const Ready&) {});
    auto t2 = Clock::now();
    alive = rss_kb();
    auto t2b = Clock::now();
    for (Pid c : children) self.send(c, GoMsg{});
    for (long i = 0; i < n; ++i) co_await self.receive([](const Done&) {});
    co_await wait_until_alone(self);
    auto t3 = Clock::now();
    spawn_s = seconds(t0, t1);
    ready_s = seconds(t0, t2);
    teardown_s = seconds(t2b, t3);
    total_s = seconds(t0, t3) - seconds(t2, t2b);
  });
  rt.run();
  std::printf(
      "peer=troupe bench=spawn %s n=%ld spawn_per_s=%.0f ready_per_s=%.0f teardown_per_s=%.0f "
      "total_s=%.4f bytes_per_proc=%.0f\n",
      cfg.c_str(), n, n / spawn_s, n / ready_s, n / teardown_s, total_s,
      (alive - base) * 1024.0 / static_cast<double>(n));
}

void bench_ring(Runtime& rt, long size, long hops, SpawnOptions where, const std::string& cfg) {
  double setup_s = 0, total_s = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto s0 = Clock::now();
    Pid driver = self.self();
    std::vector<Pid> nodes;
    for (long i = 0; i < size; ++i)
      nodes.push_back(self.spawn(
          [driver](Process& node) -> Proc {
            Pid next = co_await node.receive<Pid>();
            bool running = true;
            while (running) {
              co_await node.receive(
                  [&](long k) {
                    if (k == 0)
                      node.send(driver, RingDone{});
                    else
                      node.send(next, k - 1);
                  },
                  [&](const StopMsg&) { running = false; });
            }
          },
          where));
    for (long i = 0; i < size; ++i) self.send(nodes[i], nodes[(i + 1) % size]);
    auto t0 = Clock::now();
    self.send(nodes[0], hops);
    co_await self.receive([](const RingDone&) {});
    auto t1 = Clock::now();
    for (Pid node : nodes) self.send(node, StopMsg{});
    setup_s = seconds(s0, t0);
    total_s = seconds(t0, t1);
  });
  rt.run();
  std::printf(
      "peer=troupe bench=ring %s size=%ld hops=%ld hops_per_s=%.0f ns_per_hop=%.0f setup_s=%.4f "
      "total_s=%.4f\n",
      cfg.c_str(), size, hops, hops / total_s, total_s * 1e9 / hops, setup_s, total_s);
}

void bench_pingpong(Runtime& rt, long n, SpawnOptions where, const std::string& cfg) {
  double total_s = 0;
  rt.spawn([&](Process& self) -> Proc {
    Pid pong = self.spawn(
        [](Process& p) -> Proc {
          for (;;) {
            bool stop = false;
            co_await p.receive([&](const PingMsg& m) { p.send(m.from, PongMsg{}); },
                               [&](const StopMsg&) { stop = true; });
            if (stop) co_return;
          }
        },
        where);
    Pid me = self.self();
    for (int i = 0; i < 1000; ++i) {
      self.send(pong, PingMsg{me});
      co_await self.receive([](const PongMsg&) {});
    }
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
      self.send(pong, PingMsg{me});
      co_await self.receive([](const PongMsg&) {});
    }
    auto t1 = Clock::now();
    self.send(pong, StopMsg{});
    total_s = seconds(t0, t1);
  });
  rt.run();
  std::printf("peer=troupe bench=pingpong %s n=%ld rt_ns=%.0f rt_per_s=%.0f total_s=%.4f\n",
              cfg.c_str(), n, total_s * 1e9 / n, n / total_s, total_s);
}

// bounded > 0: the receiver's mailbox holds at most `bounded` messages and
// senders use send_when_room (backpressure) instead of send.
void bench_fanin(Runtime& rt, long senders, long per_sender, long bounded, SpawnOptions where,
                 const std::string& cfg) {
  double total_s = 0;
  rt.spawn([&](Process& self) -> Proc {
    const long expected = senders * per_sender;
    Pid driver = self.self();
    SpawnOptions receiver_options = where;
    receiver_options.max_mailbox = static_cast<std::uint32_t>(bounded);
    Pid receiver = self.spawn(
        [driver, expected](Process& r) -> Proc {
          long count = 0;
          while (count < expected) co_await r.receive([&](long) { ++count; });
          r.send(driver, Clock::now());
        },
        receiver_options);
    std::vector<Pid> pids;
    for (long s = 0; s < senders; ++s)
      pids.push_back(self.spawn(
          [receiver, per_sender, bounded](Process& p) -> Proc {
            co_await p.receive([](const GoMsg&) {});
            for (long k = per_sender; k >= 1; --k) {
              if (bounded)
                co_await p.send_when_room(receiver, k, std::chrono::hours(1));
              else
                p.send(receiver, k);
            }
          },
          where));
    co_await self.yield();  // let the senders reach their receive
    auto t0 = Clock::now();
    for (Pid p : pids) self.send(p, GoMsg{});
    auto t1 = co_await self.receive<Clock::time_point>();
    total_s = seconds(t0, t1);
  });
  rt.run();
  long total = senders * per_sender;
  std::printf(
      "peer=troupe bench=fanin %s senders=%ld per_sender=%ld msgs_per_s=%.0f total_s=%.4f\n",
      cfg.c_str(), senders, per_sender, total / total_s, total_s);
}

}  // namespace

int main(int argc, char** argv) {
  troupe::bench::Args args(argc, argv);
  std::string bench = args.str("bench");
  unsigned sched = static_cast<unsigned>(args.num("sched", 2));
  SpawnOptions where;
  std::string placement = args.str("placement", "local");
  where.placement = placement == "spread" ? Placement::spread : Placement::local;
  std::string cfg = "sched=" + std::to_string(sched);
  if (placement != "local") cfg += " placement=" + placement;
  std::string watchdog = args.str("watchdog", "on");
  if (watchdog != "on" && watchdog != "off") {
    std::fprintf(stderr, "%s: --watchdog=on|off, not %s\n", argv[0], watchdog.c_str());
    return 2;
  }
  if (watchdog == "off") cfg += " watchdog=off";

  RuntimeOptions options{.schedulers = sched};
  options.watchdog.enabled = watchdog == "on";
  Runtime rt(options);
  if (bench == "spawn") {
    bench_spawn(rt, args.num("n", 1'000'000), where, cfg);
  } else if (bench == "ring") {
    bench_ring(rt, args.num("size", 1000), args.num("hops", 10'000'000), where, cfg);
  } else if (bench == "pingpong") {
    bench_pingpong(rt, args.num("n", 1'000'000), where, cfg);
  } else if (bench == "fanin") {
    long bounded = args.num("bounded", 0);
    if (bounded) cfg += " mode=bounded max_mailbox=" + std::to_string(bounded);
    bench_fanin(rt, args.num("senders", 1000), args.num("per_sender", 10'000), bounded, where, cfg);
  } else {
    std::fprintf(stderr, "usage: %s --bench=spawn|ring|pingpong|fanin [--sched=N] [--n=N]\n",
                 argv[0]);
    return 2;
  }
  return 0;
}
