// The example apps, served together: `make run` → http://127.0.0.1:8080
//   /                 the page (chat rooms and a counter)
//   /chat/<room>      chat room sessions (chat.hpp)
//   /counter/<name>   counter sessions (counter.hpp)
//   /game/<name>      tic-tac-toe games with a turn timer (game.hpp; page /static/game.html)
// State lives in the embedded FileStore under ./data, or in Redis when
// TROUPE_REDIS_URL is set. Every acknowledged change is already on disk
// (write-through).
//
// The application is a supervision tree: the store connection, then the
// gateway (its routes' supervisors and sessions under it), then a banner
// once both serve. Ctrl-C (SIGINT, or SIGTERM) shuts the tree down in
// reverse order: the gateway stops accepting, closes the connections and
// stops the sessions, then the store closes.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "chat.hpp"
#include "cluster/node.hpp"
#include "counter.hpp"
#include "game.hpp"
#include "net/gateway/gateway.hpp"
#include "net/ws/server.hpp"
#include "persist/persistence.hpp"
#include "persist/store_connection.hpp"
#include "supervisors/events.hpp"
#include "supervisors/supervisor.hpp"
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
  std::string log_format = "text";
  std::string www = "examples/server/www";
  std::string tls_cert;
  std::string tls_key;
  bool demo_faults = false;
  // The cluster (docs/cluster.md): on when cluster_url is set.
  std::string cluster_url;
  std::string node_id;
  int peer_port = 0;
  int lease_ms = 1500;
  std::string advertise_host = "127.0.0.1";
  bool cluster_test_faults = false;
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
  --log=LEVEL         TROUPE_LOG           (info; debug, warning, error; quiet: no supervisor events)
  --log-format=F      TROUPE_LOG_FORMAT    (text; json: one JSON object per stderr line)
  --www=DIR           the page's directory (examples/server/www)
  --tls-cert=FILE     TROUPE_TLS_CERT      (none; with --tls-key: https:// and wss:// only, this
                                            PEM certificate chain, reloaded when the files change)
  --tls-key=FILE      TROUPE_TLS_KEY       (the certificate's PEM private key, not encrypted)
  --demo-faults       allow clients to crash a room on purpose ({"type":"crash"})
cluster (docs/cluster.md; session state then goes to the same Redis unless --redis names another):
  --cluster=URL       TROUPE_CLUSTER_URL   (none; redis://host:port: one node of a cluster)
  --node-id=NAME      TROUPE_NODE_ID       (required with --cluster; [A-Za-z0-9_.-], unique)
  --peer-port=N       TROUPE_PEER_PORT     (0: any free port; the node-to-node link)
  --advertise-host=H  TROUPE_ADVERTISE_HOST (127.0.0.1: where peers reach this node's link)
  --lease-ms=N        TROUPE_LEASE_MS      (1500: a dead node's sessions move after about this)
  --cluster-test-faults  serve GET /cluster/fault (renewals=drop|resume), for chaos tests
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
  c.log_format = env_or("TROUPE_LOG_FORMAT", c.log_format);
  c.tls_cert = env_or("TROUPE_TLS_CERT", "");
  c.tls_key = env_or("TROUPE_TLS_KEY", "");
  c.cluster_url = env_or("TROUPE_CLUSTER_URL", "");
  c.node_id = env_or("TROUPE_NODE_ID", "");
  c.peer_port = std::atoi(env_or("TROUPE_PEER_PORT", "0").c_str());
  c.advertise_host = env_or("TROUPE_ADVERTISE_HOST", c.advertise_host);
  c.lease_ms = std::atoi(env_or("TROUPE_LEASE_MS", "1500").c_str());
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
    } else if (auto v = value("--log-format")) {
      c.log_format = *v;
    } else if (auto v = value("--www")) {
      c.www = *v;
    } else if (auto v = value("--tls-cert")) {
      c.tls_cert = *v;
    } else if (auto v = value("--tls-key")) {
      c.tls_key = *v;
    } else if (auto v = value("--cluster")) {
      c.cluster_url = *v;
    } else if (auto v = value("--node-id")) {
      c.node_id = *v;
    } else if (auto v = value("--peer-port")) {
      c.peer_port = std::atoi(v->c_str());
    } else if (auto v = value("--advertise-host")) {
      c.advertise_host = *v;
    } else if (auto v = value("--lease-ms")) {
      c.lease_ms = std::atoi(v->c_str());
    } else if (a == "--cluster-test-faults") {
      c.cluster_test_faults = true;
    } else {
      std::fprintf(stderr, "server: unknown option %s\n%s", a.c_str(), usage);
      std::exit(2);
    }
  }
  if (!c.cluster_url.empty()) {
    // The FileStore is one machine's: a cluster's state is shared.
    if (c.redis_url.empty()) c.redis_url = c.cluster_url;
    if (c.node_id.empty()) {
      std::fprintf(stderr, "server: --cluster needs --node-id\n%s", usage);
      std::exit(2);
    }
    if (c.lease_ms < 100 || c.peer_port < 0 || c.peer_port > 65535) {
      std::fprintf(stderr, "server: --lease-ms must be at least 100, --peer-port a port\n");
      std::exit(2);
    }
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    std::fprintf(stderr, "server: --tls-cert and --tls-key go together\n%s", usage);
    std::exit(2);
  }
  return c;
}

troupe::StoreOpener store_of(const Config& c) {
  if (c.redis_url.empty()) return troupe::open_file_store({.directory = c.data_dir});
  return troupe::open_redis_store({.url = c.redis_url});
}

// The exit reason of `pid`, from a process that watches it.
std::future<troupe::ExitReason> exit_of(troupe::Runtime& rt, troupe::Pid pid) {
  auto reason = std::make_shared<std::promise<troupe::ExitReason>>();
  auto result = reason->get_future();
  rt.spawn([pid, reason](troupe::Process& self) -> troupe::Proc {
    self.monitor(pid);
    auto down = co_await self.receive<troupe::Down>();
    reason->set_value(down.reason);
  });
  return result;
}

void print_banner(const Config& config, unsigned port) {
  const char* host = config.bind.c_str();
  std::string where = config.redis_url.empty() ? config.data_dir : config.redis_url;
  const bool tls = !config.tls_cert.empty();
  const char* http = tls ? "https" : "http";
  const char* ws = tls ? "wss" : "ws";
  std::printf("Troupe examples on %s://%s:%u/  (state in %s)\n", http, host, port, where.c_str());
  if (!config.cluster_url.empty())
    std::printf("  cluster: node %s of %s (who owns a room: /cluster/owner?name=chat/<room>)\n",
                config.node_id.c_str(), config.cluster_url.c_str());
  std::printf("  chat:    %s://%s:%u/chat/<room>?name=<nick>\n", ws, host, port);
  std::printf("  counter: %s://%s:%u/counter/<name>\n", ws, host, port);
  std::printf("  game:    %s://%s:%u/game/<name>?name=<nick>  (page: /static/game.html)\n", ws,
              host, port);
  std::printf("Ctrl-C to stop.\n");
  std::fflush(stdout);
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
  if (config.log == "quiet") troupe::set_supervisor_log(nullptr);
  if (auto level = troupe::parse_log_level(config.log)) troupe::set_log_level(*level);
  if (auto format = troupe::parse_log_format(config.log_format)) troupe::set_log_format(*format);
  // SIGINT/SIGTERM shut the root supervisor down (a second one exits at once).
  troupe::Runtime rt({.schedulers = config.schedulers});
  // [tutorial:gateway]
  troupe::StoreConnection store(rt, store_of(config));
  troupe::Persistence& persistence = store.persistence();

  troupe::ws::Options server;
  server.address = config.bind;
  server.port = static_cast<std::uint16_t>(config.port);
  server.static_dir = config.www;
  server.tls_cert_file = config.tls_cert;
  server.tls_key_file = config.tls_key;
  // One node of a cluster (docs/cluster.md) when --cluster is given.
  std::unique_ptr<troupe::cluster::ClusterNode> node;
  if (!config.cluster_url.empty())
    node = std::make_unique<troupe::cluster::ClusterNode>(
        rt,
        troupe::cluster::ClusterOptions{.url = config.cluster_url,
                                        .node_id = config.node_id,
                                        .advertise_host = config.advertise_host,
                                        .peer_bind = config.bind,
                                        .peer_port = static_cast<std::uint16_t>(config.peer_port),
                                        .lease = std::chrono::milliseconds(config.lease_ms),
                                        .test_faults = config.cluster_test_faults});
  troupe::Gateway gateway(rt, {.server = server,
                               .persistence = &persistence,
                               .retention = std::chrono::seconds(std::max(0L, config.retention_s)),
                               .placement = node.get()});
  if (node) node->attach(gateway, store);
  troupe::RouteOptions options{.idle_timeout = std::chrono::seconds(config.idle_timeout_s)};
  bool faults = config.demo_faults;
  gateway.route(
      "/chat", [faults] { return std::make_unique<examples::ChatRoom>(faults); }, options);
  gateway.route(
      "/counter", [] { return std::make_unique<examples::Counter>(); }, options);
  // [/tutorial:gateway]
  // The games' turn timers are session alarms, kept in the store like their state.
  gateway.route(
      "/game",
      [turn = std::chrono::seconds(config.turn_seconds)] {
        return std::make_unique<examples::TicTacToe>(turn);
      },
      options);
  std::string page = read_file(config.www + "/index.html");
  gateway.add_http_handler("/", [page](const troupe::HttpRequest&) {
    return troupe::HttpResponse{200, "text/html; charset=utf-8", page};
  });
  // [tutorial:tree]
  troupe::SupervisorSpec app{
      .strategy = troupe::rest_for_one,  // the gateway restarts with a new store connection
      .intensity = 3,
      .period = std::chrono::seconds(10),
      .children = {store.child_spec(), gateway.child_spec()}};
  // After the gateway: it joins once the gateway listens, and drains
  // before the gateway closes its connections.
  if (node) app.children.push_back(node->child_spec());
  app.children.push_back({.id = "banner",
                          .start = troupe::process_child([&](troupe::Process&) -> troupe::Proc {
                            print_banner(config, gateway.port());
                            co_return;
                          }),
                          .restart = troupe::temporary});
  troupe::Pid root = rt.start(app);
  std::future<troupe::ExitReason> ended = exit_of(rt, root);
  rt.run();
  // [/tutorial:tree]
  // Stopped by a signal, or the tree failed (a child could not start, or
  // kept crashing): then the exit status says so.
  troupe::ExitReason why = ended.get();
  if (why == troupe::shutdown) return 0;
  std::fprintf(stderr, "server: stopped: %s\n", troupe::to_string(why).c_str());
  return 1;
}
