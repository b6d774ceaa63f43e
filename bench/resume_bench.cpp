// Time from a crash to "state loaded and first message handled": a
// supervised persistent server (1 KiB of state) is killed; the clock runs
// from the kill until a call to its restarted incarnation has been answered
// (crash noticed, restart, snapshot loaded from the store, call served).
// On a redis-server of its own (free loopback port) and on a FileStore.
//
//   peer=troupe bench=resume store=redis n=… p50_us=… p99_us=…
//   peer=troupe bench=resume store=file n=… p50_us=… p99_us=…
//
// Flags: --n=2000 (crashes per store), --quick (n=300).

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "bench/bench_args.hpp"
#include "persist/file_store.hpp"
#include "persist/persistent_server.hpp"
#include "persist/redis_store.hpp"
#include "supervisors/events.hpp"
#include "supervisors/supervisor.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;
using namespace std::chrono_literals;
using bench::Clock;

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "resume_bench: %s\n", why.c_str());
  std::exit(1);
}

struct Doc {
  std::string text;
  long edits = 0;
  MSGPACK_DEFINE(text, edits)
};
struct Ping {
  using reply = long;
};

struct Resumable : PersistentServer<Resumable, Doc> {
  using calls = types<Ping>;
  explicit Resumable(Persistence* actors) : PersistentServer(*actors, "doc") {}
  long handle_call(const Ping&) { return state()->edits; }
};

// Kills the server n times; each sample is kill → restarted incarnation answered.
std::vector<double> measure(Runtime& rt, Persistence& actors, long n) {
  SupervisorSpec spec{
      .intensity = 1'000'000,
      .period = 1s,
      .children = {{.id = "doc", .start = server_child<Resumable>(&actors), .name = "doc"}}};
  Pid root = start_root(rt, spec);
  std::vector<double> us;
  std::promise<void> done;
  rt.spawn([&](Process& self) -> Proc {
    auto first = co_await self.runtime().registry().wait_for(self, "doc", 10s);
    if (!first || !co_await call(self, *first, Ping{}, 10s)) die("the server did not start");
    for (long i = 0; i < n; ++i) {
      Pid old = self.runtime().registry().whereis("doc");
      Ref ref = self.monitor(old);
      auto t0 = Clock::now();
      self.exit(old, troupe::kill);
      co_await self.receive(when([ref](const Down& d) { return d.ref == ref; }, [](Down&) {}));
      for (;;) {
        auto pid = co_await self.runtime().registry().wait_for(self, "doc", 10s);
        if (!pid) die("the server was not restarted");
        if (co_await call(self, *pid, Ping{}, 10s)) break;
      }
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    done.set_value();
  });
  done.get_future().wait();
  rt.exit(root, troupe::shutdown);
  return us;
}

// Stores the 1 KiB state the server resumes from.
void seed(Runtime& rt, Persistence& actors) {
  std::promise<bool> done;
  rt.spawn([&](Process& self) -> Proc {
    PersistentState<Doc> state(actors, "doc");
    co_await state.load(self);
    state.mutate() = Doc{std::string(1024, 'x'), 1};
    done.set_value((co_await state.commit(self)).ok());
  });
  if (!done.get_future().get()) die("cannot store the initial snapshot");
}

void report(const char* store, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, std::size_t(q * us.size()))];
  };
  std::printf("peer=troupe bench=resume store=%s n=%zu p50_us=%.1f p99_us=%.1f\n", store, us.size(),
              at(0.50), at(0.99));
  std::fflush(stdout);
}

void run(const char* name, long n, const std::function<std::unique_ptr<Store>(Runtime&)>& open) {
  Runtime rt({.schedulers = 2, .handle_signals = false});
  auto store = open(rt);
  AwaitableStore client(rt, 0, *store);
  Persistence actors(client);
  seed(rt, actors);
  report(name, measure(rt, actors, n));
  rt.run_on_async<bool>(0, [&](auto done) { store->close([done] { done(true); }); });
  rt.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const long n = args.num("quick", 0) ? 300 : args.num("n", 2000);
  if (!args.num("verbose", 0))
    set_supervisor_log(nullptr);  // a line per restart would be measured too
  {
    test::RedisServer redis;
    if (!redis.start()) die("redis-server did not answer PING in 10 s");
    run("redis", n, [&](Runtime& rt) {
      return rt.run_on_async<std::unique_ptr<Store>>(0, [&](auto done) {
        auto created = RedisStore::create(rt.loop(0), {.url = redis.url()});
        if (!created) die(to_string(created.error()));
        auto holder = std::make_shared<std::unique_ptr<RedisStore>>(std::move(created.value()));
        (*holder)->connect([holder, done](StoreResult<void> r) mutable {
          if (!r) die(to_string(r.error()));
          done(std::move(*holder));
        });
      });
    });
  }
  test::TempDir dir("resume");
  run("file", n, [&](Runtime& rt) {
    return rt.run_on_async<std::unique_ptr<Store>>(0, [&](auto done) {
      auto fs = std::make_shared<std::unique_ptr<FileStore>>(
          std::make_unique<FileStore>(rt.loop(0), FileStoreOptions{.directory = dir.path()}));
      (*fs)->open([fs, done](StoreResult<void> r) mutable {
        if (!r) die(to_string(r.error()));
        done(std::move(*fs));
      });
    });
  });
}
