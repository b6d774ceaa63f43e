// Cluster claim benchmark (issue 12): first activations of new names on one
// node. Starts its own redis-server on a free loopback port (persistence
// off), joins one RedisDirectory node and claims `claims` distinct new
// names, pipelined with at most `in_flight` claims outstanding, each one a
// full claim (one script run: own lease check, owner record read, fence
// INCR, owner record write).
//
//   cluster_claim [--claims=N] [--in_flight=N] [--quick]
//
// Prints one line:
//   peer=troupe bench=cluster_claim claims=… in_flight=… claims_per_s=…
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_args.hpp"
#include "cluster/redis_directory.hpp"
#include "test/support/redis_server.hpp"

using namespace troupe;
using namespace troupe::cluster;

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "cluster_claim: %s\n", why.c_str());
  std::exit(1);
}

// Runs the loop until flag is set.
void run_until(uv_loop_t* loop, const bool& flag) {
  while (!flag) uv_run(loop, UV_RUN_ONCE);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  bool quick = args.num("quick", 0) != 0;
  const long claims = args.num("claims", quick ? 20000 : 200000);
  const long in_flight = args.num("in_flight", 1000);
  if (claims < 1 || in_flight < 1) die("--claims and --in_flight must be at least 1");

  test::RedisServer server;
  if (!server.start()) die("redis-server did not start");
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto made = RedisDirectory::create(&loop, {.url = server.url()});
  if (!made) die(to_string(made.error()));
  auto& dir = *made.value();

  bool step = false;
  dir.connect([&](StoreResult<void> r) {
    if (!r) die(to_string(r.error()));
    step = true;
  });
  run_until(&loop, step);
  step = false;
  dir.join({.id = "bench", .host = "127.0.0.1", .ws_port = 8080, .peer_port = 9080},
           std::chrono::seconds(60), [&](StoreResult<std::uint64_t> r) {
             if (!r) die(to_string(r.error()));
             step = true;
           });
  run_until(&loop, step);

  long issued = 0, done = 0;
  bool finished = false;
  std::function<void()> issue_more;
  auto on_claim = [&](StoreResult<ClaimResult> r) {
    if (!r) die(to_string(r.error()));
    if (!r->mine) die("a new name was owned already");
    if (++done == claims) finished = true;
    issue_more();
  };
  issue_more = [&] {
    while (issued < claims && issued - done < in_flight) {
      dir.claim("room/" + std::to_string(issued++), on_claim);
    }
  };
  auto start = bench::Clock::now();
  issue_more();
  run_until(&loop, finished);
  double seconds = bench::seconds(start, bench::Clock::now());

  std::printf("peer=troupe bench=cluster_claim claims=%ld in_flight=%ld claims_per_s=%.0f\n",
              claims, in_flight, claims / seconds);
  step = false;
  dir.close([&] { step = true; });
  run_until(&loop, step);
  made.value().reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
