// The example apps, served together: `make run` → http://127.0.0.1:8080
//   /                 the page (chat rooms and a counter)
//   /chat/<room>      chat room sessions (chat.hpp)
//   /counter/<name>   counter sessions (counter.hpp)
//   /game/<name>      tic-tac-toe games with a turn timer (game.hpp; page /static/game.html)
// State lives in the embedded FileStore under ./data, or in Redis when
// TROUPE_REDIS_URL is set. Ctrl-C closes the connections and exits; every
// acknowledged change is already on disk (write-through).

#include <sched.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "chat.hpp"
#include "counter.hpp"
#include "game.hpp"
#include "net/gateway/gateway.hpp"
#include "net/ws/server.hpp"
#include "persist/file_store.hpp"
#include "persist/persistence.hpp"
#include "persist/redis_store.hpp"
#include "supervisors/events.hpp"
#include "troupe.hpp"

namespace {

struct Config {
  std::string bind = "127.0.0.1";
  int port = 8080;
  std::string data_dir = "data";
  std::string redis_url;
  unsigned schedulers = 0;
  int idle_timeout_s = 30;
  int turn_seconds = 30;
  long retention_s = 0;
  std::string log = "info";
  std::string www = "examples/server/www";
  bool demo_faults = false;
};

const char* usage = R"(usage: server [options]
  --port=N            TROUPE_PORT          (8080)
  --bind=ADDR         TROUPE_BIND          (127.0.0.1)
  --data-dir=DIR      TROUPE_DATA_DIR      (./data, the embedded file store)
  --redis=URL         TROUPE_REDIS_URL     (redis://[:password@]host:port/db: use Redis instead)
  --schedulers=N      TROUPE_SCHEDULERS    (one per core)
  --idle-timeout=S    TROUPE_IDLE_TIMEOUT  (30: seconds before an unused session stops)
  --turn-seconds=S    TROUPE_TURN_SECONDS  (30: a game's time per move)
  --retention=S       TROUPE_RETENTION     (0, off: erase the state of names unused this long)
  --log=LEVEL         TROUPE_LOG           (info: supervisor events on stderr; quiet: none)
  --www=DIR           the page's directory (examples/server/www)
  --demo-faults       allow clients to crash a room on purpose ({"type":"crash"})
)";

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

Config configure(int argc, char** argv) {
  Config c;
  c.port = std::atoi(env_or("TROUPE_PORT", "8080").c_str());
  c.bind = env_or("TROUPE_BIND", c.bind);
  c.data_dir = env_or("TROUPE_DATA_DIR", c.data_dir);
  c.redis_url = env_or("TROUPE_REDIS_URL", "");
  c.schedulers = static_cast<unsigned>(std::atoi(env_or("TROUPE_SCHEDULERS", "0").c_str()));
  c.idle_timeout_s = std::atoi(env_or("TROUPE_IDLE_TIMEOUT", "30").c_str());
  c.turn_seconds = std::atoi(env_or("TROUPE_TURN_SECONDS", "30").c_str());
  c.retention_s = std::atol(env_or("TROUPE_RETENTION", "0").c_str());
  c.log = env_or("TROUPE_LOG", c.log);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      std::string prefix = std::string(flag) + "=";
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--demo-faults") {
      c.demo_faults = true;
    } else if (auto v = value("--port")) {
      c.port = std::atoi(v->c_str());
    } else if (auto v = value("--bind")) {
      c.bind = *v;
    } else if (auto v = value("--data-dir")) {
      c.data_dir = *v;
    } else if (auto v = value("--redis")) {
      c.redis_url = *v;
    } else if (auto v = value("--schedulers")) {
      c.schedulers = static_cast<unsigned>(std::atoi(v->c_str()));
    } else if (auto v = value("--idle-timeout")) {
      c.idle_timeout_s = std::atoi(v->c_str());
    } else if (auto v = value("--turn-seconds")) {
      c.turn_seconds = std::atoi(v->c_str());
    } else if (auto v = value("--retention")) {
      c.retention_s = std::atol(v->c_str());
    } else if (auto v = value("--log")) {
      c.log = *v;
    } else if (auto v = value("--www")) {
      c.www = *v;
    } else {
      std::fprintf(stderr, "server: unknown option %s\n%s", a.c_str(), usage);
      std::exit(2);
    }
  }
  return c;
}

// Opens the configured store on scheduler 0's loop.
std::unique_ptr<troupe::Store> open_store(troupe::Runtime& rt, const Config& c,
                                          std::string& error) {
  std::promise<troupe::StoreResult<void>> opened;
  std::unique_ptr<troupe::Store> store;
  rt.post(0, [&] {
    auto done = [&](troupe::StoreResult<void> r) {
      opened.set_value(std::move(r));
    };
    if (c.redis_url.empty()) {
      std::filesystem::create_directories(c.data_dir);
      auto files =
          std::make_unique<troupe::FileStore>(rt.loop(0), troupe::FileStoreOptions{c.data_dir});
      files->open(done);
      store = std::move(files);
    } else {
      auto redis = troupe::RedisStore::create(rt.loop(0), {.url = c.redis_url});
      if (!redis) return done(troupe::unexpected(redis.error()));
      redis.value()->connect(done);
      store = std::move(redis.value());
    }
  });
  auto r = opened.get_future().get();
  if (!r) {
    error = r.error().to_string();
    return nullptr;
  }
  return store;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  Config config = configure(argc, argv);
  // Signals are taken by sigwait below, not by any scheduler thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (config.log == "quiet") troupe::set_supervisor_log(nullptr);
  troupe::Runtime rt({.schedulers = config.schedulers, .handle_signals = false});
  std::string error;
  auto store = open_store(rt, config, error);
  if (!store) {
    std::fprintf(stderr, "server: cannot open the store: %s\n", error.c_str());
    return 1;
  }
  // [tutorial:gateway]
  troupe::AwaitableStore client(rt, 0, *store);
  troupe::Persistence actors(client);

  troupe::ws::Options server;
  server.address = config.bind;
  server.port = static_cast<std::uint16_t>(config.port);
  server.static_dir = config.www;
  troupe::Gateway gateway(rt,
                          {.server = server,
                           .persistence = &actors,
                           .retention = std::chrono::seconds(std::max(0L, config.retention_s))});
  troupe::RouteOptions kind{.idle_timeout = std::chrono::seconds(config.idle_timeout_s)};
  bool faults = config.demo_faults;
  gateway.route(
      "/chat", [faults] { return std::make_unique<examples::ChatRoom>(faults); },
      kind);
  gateway.route(
      "/counter", [] { return std::make_unique<examples::Counter>(); }, kind);
  // [/tutorial:gateway]
  // The games' turn timers are session alarms, kept in the store like their state.
  gateway.route(
      "/game",
      [turn = std::chrono::seconds(config.turn_seconds)] {
        return std::make_unique<examples::TicTacToe>(turn);
      },
      kind);
  std::string page = read_file(config.www + "/index.html");
  gateway.add_http_handler("/", [page](const troupe::HttpRequest&) {
    return troupe::HttpResponse{200, "text/html; charset=utf-8", page};
  });
  if (auto err = gateway.start()) {
    std::fprintf(stderr, "server: cannot listen on %s:%d: %s\n", config.bind.c_str(), config.port,
                 err.message().c_str());
    return 1;
  }
  std::string where = config.redis_url.empty() ? config.data_dir : config.redis_url;
  std::printf("Troupe examples on http://%s:%u/  (state in %s)\n", config.bind.c_str(),
              gateway.port(), where.c_str());
  std::printf("  chat:    ws://%s:%u/chat/<room>?name=<nick>\n", config.bind.c_str(),
              gateway.port());
  std::printf("  counter: ws://%s:%u/counter/<name>\n", config.bind.c_str(), gateway.port());
  std::printf("  game:    ws://%s:%u/game/<name>?name=<nick>  (page: /static/game.html)\n",
              config.bind.c_str(), gateway.port());
  std::printf("Ctrl-C to stop.\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("stopping: closing connections, stopping sessions\n");
  gateway.stop();
  rt.run_for(std::chrono::seconds(5));  // the sessions' supervisors wind down
  std::promise<void> closed;
  rt.post(0, [&] { store->close([&] { closed.set_value(); }); });
  closed.get_future().wait();
  rt.shutdown();
  return 0;
}
