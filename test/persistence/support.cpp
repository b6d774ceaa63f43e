#include "test/persistence/support.hpp"

#include <future>

namespace troupe::test {

std::unique_ptr<StoreEnv> StoreEnv::file(const std::string& directory, PersistenceOptions options,
                                         bool fsync) {
  std::unique_ptr<StoreEnv> env(new StoreEnv);
  auto opened = on_loop_async<bool>(env->rt, 0, [&](std::function<void(bool)> done) {
    auto fs = std::make_unique<FileStore>(env->rt.loop(0),
                                          FileStoreOptions{.directory = directory, .fsync = fsync});
    fs->open([done](StoreResult<void> r) {
      if (!r) std::fprintf(stderr, "FileStore open: %s\n", r.error().to_string().c_str());
      done(r.ok());
    });
    env->store = std::move(fs);
  });
  if (!opened) FAIL("cannot open the FileStore");
  env->finish(std::move(options));
  return env;
}

std::unique_ptr<StoreEnv> StoreEnv::memory(PersistenceOptions options) {
  std::unique_ptr<StoreEnv> env(new StoreEnv);
  on_loop_async<bool>(env->rt, 0, [&](std::function<void(bool)> done) {
    env->store = std::make_unique<MemoryStore>(env->rt.loop(0));
    done(true);
  });
  env->finish(std::move(options));
  return env;
}

std::unique_ptr<StoreEnv> StoreEnv::redis(const std::string& url, PersistenceOptions options,
                                          StoreResult<void>* connected) {
  std::unique_ptr<StoreEnv> env(new StoreEnv);
  auto first = on_loop_async<StoreResult<void>>(
      env->rt, 0, [&](std::function<void(StoreResult<void>)> done) {
        auto created = RedisStore::create(env->rt.loop(0), {.url = url,
                                                            .key_prefix = "pa:",
                                                            .connect_timeout = 1000ms,
                                                            .command_timeout = 2000ms,
                                                            .backoff_initial = 10ms,
                                                            .backoff_max = 100ms});
        if (!created) return done(unexpected(created.error()));
        created.value()->connect(done);
        env->store = std::move(created.value());
      });
  if (connected)
    *connected = first;
  else if (!first)
    FAIL(first.error().to_string().c_str());
  env->finish(std::move(options));
  return env;
}

void StoreEnv::finish(PersistenceOptions options) {
  client = std::make_unique<AwaitableStore>(rt, 0, *store);
  actors = std::make_unique<Persistence>(*client, std::move(options));
}

StoreEnv::~StoreEnv() {
  // The store closes on its loop first (its handles live there); the tests
  // have stopped the actors that use it by now.
  if (store) on_loop_async<bool>(rt, 0, [&](auto done) { store->close([done] { done(true); }); });
  rt.shutdown();
}

StoreResult<std::optional<Entry>> StoreEnv::get(const std::string& key) {
  return on_loop_async<StoreResult<std::optional<Entry>>>(
      rt, 0, [&](auto done) { store->get(key, done); });
}

StoreResult<void> StoreEnv::batch(std::vector<WriteOp> ops) {
  return on_loop_async<StoreResult<void>>(rt, 0,
                                          [&](auto done) { store->batch(std::move(ops), done); });
}

namespace {
Proc run_body(Process& self, std::function<Task<>(Process&)> body,
              std::shared_ptr<std::promise<void>> done) {
  co_await body(self);
  done->set_value();
}
}  // namespace

bool run_process(Runtime& rt, std::function<Task<>(Process&)> body, Duration limit) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  rt.spawn([body = std::move(body), done](Process& self) { return run_body(self, body, done); });
  return finished.wait_for(limit) == std::future_status::ready;
}

std::optional<ExitReason> wait_exit(Runtime& rt, Pid pid, Duration limit) {
  std::optional<ExitReason> reason;
  run_process(
      rt,
      [&](Process& self) -> Task<> {
        Ref ref = self.monitor(pid);
        auto down =
            co_await self.receive(when([ref](const Down& d) { return d.ref == ref; },
                                       [](Down& d) { return std::optional<ExitReason>(d.reason); }),
                                  after(limit, [] { return std::optional<ExitReason>(); }));
        reason = down;
      },
      limit + 1s);
  return reason;
}

void check_contains(const std::string& text, const std::string& part) {
  CHECK_TEXT(text.find(part) != std::string::npos, ("'" + part + "' not in: " + text).c_str());
}

}  // namespace troupe::test
