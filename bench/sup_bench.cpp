// Workloads 5 (sup) and 6 (registry) of ../shared/bench-peers/actors/README.md
// on Troupe, plus the round trip of a server call by Pid and by name. Every
// workload is driven by a Troupe process and prints the kit's line format.
//
//   sup_bench [--bench=sup|registry|call] [--sched=N] [--workers=1000]
//             [--crashes=100000] [--rounds=100] [--n=100000] [--calls=200000]
//
// Without --bench it runs the three, each on a fresh Runtime. --sched=0 (the
// default) is one scheduler per core, as the kit's default configuration;
// --sched=1 is the variant beside Erlang's +S 1.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.hpp"
#include "runtime/server.hpp"
#include "supervisors/supervisor.hpp"
#include "troupe.hpp"

using namespace troupe;
using troupe::bench::Clock;

namespace {

struct Ping {
  using reply = int;  // pong
};
struct StopMsg {};

// The supervised child: a server answering ping (the kit's gen_server worker).
struct PingServer : Server<PingServer> {
  using calls = types<Ping>;
  int handle_call(const Ping&) { return 1; }
};

struct Options {
  std::string bench;
  unsigned sched = 0;
  long workers = 1000, crashes = 100'000, rounds = 100, n = 100'000, calls = 200'000;
};

Options parse(int argc, char** argv) {
  troupe::bench::Args args(argc, argv);
  Options o;
  o.bench = args.str("bench");
  o.sched = static_cast<unsigned>(args.num("sched", 0));
  o.workers = args.num("workers", o.workers);
  o.crashes = args.num("crashes", o.crashes);
  o.rounds = args.num("rounds", o.rounds);
  o.n = args.num("n", o.n);
  o.calls = args.num("calls", o.calls);
  return o;
}

using troupe::bench::seconds;

// The kit's percentile: the element at max(1, min(len, round(p * len))), 1-based.
double percentile_us(const std::vector<std::int64_t>& sorted_ns, double p) {
  auto len = static_cast<long>(sorted_ns.size());
  long k = std::max(1L, std::min(len, std::lround(p * static_cast<double>(len))));
  return static_cast<double>(sorted_ns[static_cast<std::size_t>(k - 1)]) / 1000.0;
}

// Polls the registry until `name` maps to a process other than `old`, yielding between polls.
Task<> wait_new(Process& self, const std::string& name, Pid old) {
  for (;;) {
    Pid now = self.runtime().registry().whereis(name);
    if (now && now != old) co_return;
    co_await self.yield();
  }
}

// One crash: look up, kill, wait for the new process, call it by name.
Task<std::int64_t> crash_one(Process& self, const std::string& name) {
  Pid old = self.runtime().registry().whereis(name);
  auto t0 = Clock::now();
  self.exit(old, troupe::kill);
  co_await wait_new(self, name, old);
  auto pong = co_await call(self, name, Ping{}, infinite_wait);
  if (!pong) {
    std::fprintf(stderr, "sup_bench: call %s failed: %s\n", name.c_str(),
                 to_string(pong.error()).c_str());
    std::exit(1);
  }
  co_return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

void bench_sup(const Options& o) {
  Runtime rt({.schedulers = o.sched});
  const unsigned sched = rt.scheduler_count();
  set_supervisor_log(nullptr);  // as the kit sets Erlang's logger level to none
  rt.spawn([&](Process& self) -> Proc {
    std::vector<std::string> names;
    SupervisorSpec spec{.strategy = one_for_one, .intensity = 1'000'000'000, .period = 1s};
    for (long k = 1; k <= o.workers; ++k) {
      names.push_back("w" + std::to_string(k));
      spec.children.push_back({.id = names.back(),
                               .start = server_child<PingServer>(),
                               .restart = permanent,
                               .shutdown = brutal_kill,
                               .name = names.back()});
    }
    // Linked, not trapping: if the supervisor ever gave up, the driver would die.
    auto started = co_await start_supervisor(self, spec);
    if (!started) {
      std::fprintf(stderr, "sup_bench: supervisor: %s\n", to_string(started.error()).c_str());
      std::exit(1);
    }
    Pid sup = started.value();
    auto seq = [&](long count, std::vector<std::int64_t>* latencies) -> Task<> {
      for (long i = count; i > 0; --i) {
        std::int64_t ns = co_await crash_one(self, names[static_cast<std::size_t>(i % o.workers)]);
        if (latencies) latencies->push_back(ns);
      }
    };
    co_await seq(1000, nullptr);  // warm-up

    std::vector<std::int64_t> latencies;
    latencies.reserve(static_cast<std::size_t>(o.crashes));
    auto t0 = Clock::now();
    co_await seq(o.crashes, &latencies);
    auto t1 = Clock::now();
    std::sort(latencies.begin(), latencies.end());
    std::printf(
        "peer=troupe bench=sup sched=%u mode=seq workers=%ld crashes=%ld restarts_per_s=%.0f "
        "restart_p50_us=%.4f restart_p99_us=%.4f total_s=%.4f\n",
        sched, o.workers, o.crashes, static_cast<double>(o.crashes) / seconds(t0, t1),
        percentile_us(latencies, 0.50), percentile_us(latencies, 0.99), seconds(t0, t1));
    std::fflush(stdout);

    co_await self.sleep_for(1100ms);  // as the kit: the 1 s restart window drains

    auto t2 = Clock::now();
    std::vector<Pid> olds(names.size());
    for (long r = 0; r < o.rounds; ++r) {
      for (std::size_t k = 0; k < names.size(); ++k) {
        olds[k] = self.runtime().registry().whereis(names[k]);
        self.exit(olds[k], troupe::kill);
      }
      for (std::size_t k = 0; k < names.size(); ++k) {
        co_await wait_new(self, names[k], olds[k]);
        if (!co_await call(self, names[k], Ping{}, infinite_wait)) std::exit(1);
      }
    }
    auto t3 = Clock::now();
    const long total = o.rounds * o.workers;
    std::printf(
        "peer=troupe bench=sup sched=%u mode=burst workers=%ld crashes=%ld restarts_per_s=%.0f "
        "total_s=%.4f\n",
        sched, o.workers, total, static_cast<double>(total) / seconds(t2, t3), seconds(t2, t3));
    std::fflush(stdout);
    self.unlink(sup);
    self.exit(sup, troupe::shutdown);  // from its parent: it stops its children and exits
  });
  rt.run();
}

void bench_registry(const Options& o) {
  Runtime rt({.schedulers = o.sched});
  const unsigned sched = rt.scheduler_count();
  rt.spawn([&](Process& self) -> Proc {
    const auto n = static_cast<std::size_t>(o.n);
    std::vector<Pid> pids;
    pids.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      pids.push_back(
          self.spawn([](Process& p) -> Proc { co_await p.receive([](const StopMsg&) {}); }));
    std::vector<std::string> keys;
    keys.reserve(n);
    for (std::size_t i = 1; i <= n; ++i) keys.push_back("n" + std::to_string(i));
    Registry& registry = self.runtime().registry();

    auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i)
      if (!registry.register_name(keys[i], pids[i])) std::exit(1);
    auto t1 = Clock::now();
    for (std::size_t i = 0; i < n; ++i)
      if (registry.whereis(keys[i]) != pids[i]) std::exit(1);
    auto t2 = Clock::now();
    std::printf(
        "peer=troupe bench=registry sched=%u impl=troupe n=%zu reg_per_s=%.0f lookup_per_s=%.0f\n",
        sched, n, static_cast<double>(n) / seconds(t0, t1),
        static_cast<double>(n) / seconds(t1, t2));
    std::fflush(stdout);
    for (Pid p : pids) self.send(p, StopMsg{});
    co_return;
  });
  rt.run();
}

void bench_call(const Options& o) {
  Runtime rt({.schedulers = o.sched});
  const unsigned sched = rt.scheduler_count();
  rt.spawn([&](Process& self) -> Proc {
    auto server = co_await start_server<PingServer>(self, {.name = "pingserver"});
    Pid pid = server.value();
    for (int i = 0; i < 1000; ++i) co_await call(self, pid, Ping{});  // warm-up
    for (const char* mode : {"pid", "name"}) {
      const bool by_name = mode[0] == 'n';
      auto t0 = Clock::now();
      for (long i = 0; i < o.calls; ++i) {
        if (by_name) {
          if (!co_await call(self, "pingserver", Ping{})) std::exit(1);
        } else {
          if (!co_await call(self, pid, Ping{})) std::exit(1);
        }
      }
      auto t1 = Clock::now();
      double s = seconds(t0, t1);
      std::printf("peer=troupe bench=call sched=%u mode=%s n=%ld rt_ns=%.0f rt_per_s=%.0f\n", sched,
                  mode, o.calls, s * 1e9 / static_cast<double>(o.calls),
                  static_cast<double>(o.calls) / s);
      std::fflush(stdout);
    }
    self.unlink(pid);
    self.exit(pid, troupe::kill);
  });
  rt.run();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.bench.empty() || o.bench == "sup") bench_sup(o);
  if (o.bench.empty() || o.bench == "registry") bench_registry(o);
  if (o.bench.empty() || o.bench == "call") bench_call(o);
  return 0;
}
