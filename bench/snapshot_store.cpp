// Snapshot-store benchmark (issue 4): fenced snapshot writes on Redis next
// to redis-benchmark's plain SET against the same server, and FileStore
// writes with and without fsync. Starts its own redis-server on a free
// loopback port (persistence off) and stops it.
//
//   snapshot_store [--keys N] [--value-bytes N] [--rounds N] [--batch N] [--quick]
//
// Prints, one line each:
//   peer=troupe bench=snapshot_redis keys=… writes_per_s=… redis_benchmark_per_s=… ratio=…
//       naive_cas_per_s=…
//   peer=troupe bench=snapshot_file fsync=1 writes_per_s=…
//   peer=troupe bench=snapshot_file fsync=0 writes_per_s=…
// "Fenced" means every write is a compare-and-put on the actor's revision:
// batched, compare_and_put_many checks and writes `batch` actors per script
// run; naive, one compare_and_put (one script run) per write.
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
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "persist/file_store.hpp"
#include "persist/redis_store.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  int keys = 10000;
  std::size_t value_bytes = 1024;
  int rounds = 10;          // fenced writes per key on Redis
  std::size_t batch = 500;  // actors per compare_and_put_many
  int in_flight = 4;        // batches pipelined at once
  double file_seconds = 3;  // time spent on each FileStore mode
  long redis_benchmark_n = 1000000;
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "snapshot_store: %s\n", why.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// redis-benchmark's "SET: 1550387.62 requests per second, p50=..." rate.
double run_redis_benchmark(int port, const Config& cfg) {
  std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -t set -d " +
                    std::to_string(cfg.value_bytes) + " -P 16 -q -n " +
                    std::to_string(cfg.redis_benchmark_n) + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) die("cannot run redis-benchmark");
  // -q redraws its progress with '\r' on one long line; the figure follows
  // the last "SET: ".
  std::string out;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, p)) out.append(chunk, n);
  double rate = 0;
  if (auto at = out.rfind("SET: "); at != std::string::npos) {
    rate = std::strtod(out.c_str() + at + 5, nullptr);
  }
  ::pclose(p);
  if (rate <= 0) die("could not read redis-benchmark's SET rate");
  return rate;
}

// ---- driving a store ----------------------------------------------------------

void run_until(uv_loop_t* loop, const std::function<bool()>& done) {
  while (!done()) uv_run(loop, UV_RUN_ONCE);
}

void close_store(uv_loop_t* loop, Store& store) {
  bool closed = false;
  store.close([&] { closed = true; });
  run_until(loop, [&] { return closed; });
}

struct Rounds {
  Revision first = 1, last = 1;  // revisions written to every key, in order
  double seconds = 0;            // stop early after this long (0: never)
  int in_flight = 4;             // compare_and_put_many calls outstanding
  std::size_t batch = 500;       // keys per call
};

// Every key written at each revision of r with compare_and_put_many. Returns
// the writes committed; any conflict or error aborts, since none is expected.
long fenced_rounds(uv_loop_t* loop, Store& store, const Config& cfg, const Rounds& r) {
  const int batch = static_cast<int>(r.batch);
  const std::string value(cfg.value_bytes, 's');
  long committed = 0;
  int outstanding = 0;
  auto start = Clock::now();
  bool stop = false;
  for (Revision round = r.first; round <= r.last && !stop; ++round) {
    for (int first = 0; first < cfg.keys; first += batch) {
      run_until(loop, [&] { return outstanding < r.in_flight; });
      std::vector<CasWrite> writes;
      for (int k = first; k < std::min(cfg.keys, first + batch); ++k) {
        writes.push_back({"actor/" + std::to_string(k) + "/snapshot", value, round});
      }
      ++outstanding;
      store.compare_and_put_many(std::move(writes), [&](StoreResult<std::vector<CasOutcome>> res) {
        --outstanding;
        if (!res) die(to_string(res.error()));
        for (const auto& o : *res) {
          if (!o.committed) die("unexpected conflict in the benchmark");
          ++committed;
        }
      });
      if (r.seconds > 0 && seconds_since(start) > r.seconds) {
        stop = true;
        break;
      }
    }
    // A round must land before the next one writes the following revision.
    run_until(loop, [&] { return outstanding == 0; });
  }
  run_until(loop, [&] { return outstanding == 0; });
  return committed;
}

// One compare_and_put per write, up to `window` outstanding.
long naive_round(uv_loop_t* loop, Store& store, const Config& cfg, Revision revision) {
  const std::string value(cfg.value_bytes, 'n');
  long committed = 0;
  int outstanding = 0;
  for (int k = 0; k < cfg.keys; ++k) {
    run_until(loop, [&] { return outstanding < 1000; });
    ++outstanding;
    store.compare_and_put("naive/" + std::to_string(k), value, revision, [&](StoreResult<void> r) {
      --outstanding;
      if (!r) die(to_string(r.error()));
      ++committed;
    });
  }
  run_until(loop, [&] { return outstanding == 0; });
  return committed;
}

void bench_redis(const Config& cfg, const std::string& tmp) {
  (void)tmp;
  test::RedisServer server;
  if (!server.start()) die("redis-server did not answer PING in 10 s");
  int port = server.port();
  std::string url = server.url();

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto created = RedisStore::create(&loop, {.url = url});
  if (!created) die(to_string(created.error()));
  auto& store = *created.value();
  std::optional<StoreResult<void>> connected;
  store.connect([&](StoreResult<void> r) { connected.emplace(std::move(r)); });
  run_until(&loop, [&] { return connected.has_value(); });
  if (!*connected) die(to_string(connected->error()));

  // Round 1 creates the keys (and their index entries); measure the
  // steady state: actors rewriting existing snapshots.
  fenced_rounds(&loop, store, cfg, {.first = 1, .last = 1, .batch = cfg.batch});
  auto start = Clock::now();
  long writes = fenced_rounds(&loop, store, cfg,
                              {.first = 2,
                               .last = static_cast<Revision>(cfg.rounds) + 1,
                               .in_flight = cfg.in_flight,
                               .batch = cfg.batch});
  double fenced_per_s = static_cast<double>(writes) / seconds_since(start);

  naive_round(&loop, store, cfg, 1);  // creates the keys
  start = Clock::now();
  long naive = 0;
  for (Revision r = 2; r <= 3; ++r) naive += naive_round(&loop, store, cfg, r);
  double naive_per_s = static_cast<double>(naive) / seconds_since(start);

  close_store(&loop, store);
  created.value().reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  double set_per_s = run_redis_benchmark(port, cfg);
  std::printf(
      "peer=troupe bench=snapshot_redis keys=%d value_bytes=%zu batch=%zu writes=%ld "
      "writes_per_s=%.0f redis_benchmark_per_s=%.0f ratio=%.2f naive_cas_per_s=%.0f "
      "batched_vs_naive=%.1f\n",
      cfg.keys, cfg.value_bytes, cfg.batch, writes, fenced_per_s, set_per_s,
      fenced_per_s / set_per_s, naive_per_s, fenced_per_s / naive_per_s);
  std::fflush(stdout);
}

void bench_file(const Config& cfg, const std::string& tmp, bool fsync) {
  std::string dir = tmp + (fsync ? "/file-fsync" : "/file-nofsync");
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    FileStore store(&loop, {dir, fsync});
    std::optional<StoreResult<void>> opened;
    store.open([&](StoreResult<void> r) { opened.emplace(std::move(r)); });
    run_until(&loop, [&] { return opened.has_value(); });
    if (!*opened) die(to_string(opened->error()));
    // Small batches, several in flight: libuv's pool threads write
    // different actors' files in parallel, one directory fsync per batch.
    auto start = Clock::now();
    long writes = fenced_rounds(
        &loop, store, cfg,
        {.first = 1, .last = 1000, .seconds = cfg.file_seconds, .in_flight = 8, .batch = 64});
    double per_s = static_cast<double>(writes) / seconds_since(start);
    std::printf(
        "peer=troupe bench=snapshot_file fsync=%d value_bytes=%zu writes=%ld "
        "writes_per_s=%.0f\n",
        fsync ? 1 : 0, cfg.value_bytes, writes, per_s);
    std::fflush(stdout);
    close_store(&loop, store);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] {
      return i + 1 < argc ? std::atol(argv[++i]) : 0L;
    };
    if (a == "--keys") {
      cfg.keys = static_cast<int>(next());
    } else if (a == "--value-bytes") {
      cfg.value_bytes = static_cast<std::size_t>(next());
    } else if (a == "--rounds") {
      cfg.rounds = static_cast<int>(next());
    } else if (a == "--batch") {
      cfg.batch = static_cast<std::size_t>(next());
    } else if (a == "--quick") {
      cfg.keys = 2000;
      cfg.rounds = 3;
      cfg.file_seconds = 0.5;
      cfg.redis_benchmark_n = 100000;
    } else {
      die("unknown argument " + a);
    }
  }
  if (cfg.keys <= 0 || cfg.rounds <= 0 || cfg.batch == 0) die("sizes must be positive");
  test::TempDir tmp("snapshot-bench");
  bench_redis(cfg, tmp.path());
  bench_file(cfg, tmp.path(), true);
  bench_file(cfg, tmp.path(), false);
  return 0;
}
