#include "persist/store_connection.hpp"

#include <utility>

#include "persist/detail/store_slot.hpp"
#include "runtime/server.hpp"

namespace troupe {

namespace {

// Hands a store being opened to `opened` once its open callback ran.
template <class S>
auto hand_over(std::unique_ptr<S> store,
               std::function<void(std::unique_ptr<Store>, StoreResult<void>)> opened) {
  auto held = std::make_shared<std::unique_ptr<Store>>(std::move(store));
  return [held, opened = std::move(opened)](StoreResult<void> result) {
    opened(std::move(*held), std::move(result));
  };
}

}  // namespace

StoreOpener open_file_store(FileStoreOptions options) {
  StoreOpener opener;
  opener.what = "the file store in " + options.directory;
  opener.open = [options](uv_loop_t* loop, auto opened) {
    auto store = std::make_unique<FileStore>(loop, options);
    FileStore& files = *store;
    files.open(hand_over(std::move(store), std::move(opened)));
  };
  opener.key_error = [](std::string_view key) {
    return FileStore::check_key(key);
  };
  return opener;
}

StoreOpener open_redis_store(RedisStoreOptions options) {
  StoreOpener opener;
  opener.what = "Redis at " + options.url;
  opener.open = [options](uv_loop_t* loop, auto opened) {
    auto made = RedisStore::create(loop, options);
    if (!made) return opened(nullptr, unexpected(made.error()));
    RedisStore& redis = *made.value();
    redis.connect(hand_over(std::move(made.value()), std::move(opened)));
  };
  opener.shared = true;
  return opener;  // RedisStore has the base key rules
}

namespace {
unsigned store_scheduler(Runtime& rt, std::optional<unsigned> chosen) {
  if (chosen) return *chosen;
  SchedulerGroup own = rt.add_schedulers(1);
  return own.count ? own.first : 0;
}
}  // namespace

StoreConnection::StoreConnection(Runtime& rt, StoreOpener opener, std::optional<unsigned> chosen,
                                 PersistenceOptions options)
    : rt_(rt), scheduler_(store_scheduler(rt, chosen)), opener_(std::move(opener)) {
  const unsigned scheduler = scheduler_;
  slot_ = std::make_unique<detail::StoreSlot>(
      rt.loop(scheduler), opener_,
      [&rt, scheduler](std::function<void()> fn) { rt.post(scheduler, std::move(fn)); });
  client_ = std::make_unique<AwaitableStore>(rt, scheduler, *slot_);
  persistence_ = std::make_unique<Persistence>(*client_, std::move(options));
}

StoreConnection::~StoreConnection() {
  // A store left open (the child was killed, or never stopped) is closed on
  // its loop before the slot goes; not possible once the runtime has shut
  // down (its loops are closed: a store would have failed that already).
  if (rt_.has_scheduler(scheduler_))
    rt_.run_on_async<bool>(scheduler_, [this](std::function<void(bool)> done) {
      slot_->close([done] { done(true); });
    });
}

ChildSpec StoreConnection::child_spec(std::string id, Shutdown shutdown) {
  StoreConnection* self = this;
  auto start = [self](Process& sup, const std::string& name) {
    return start_link(
        sup,
        [self](Process& child, InitAck ack) -> Proc { return self->serve(child, std::move(ack)); },
        StartOptions{.name = name, .spawn = {.scheduler = static_cast<int>(self->scheduler_)}});
  };
  return ChildSpec{.id = std::move(id),
                   .start = ChildStart("store<" + opener_.what + ">", std::move(start)),
                   .shutdown = shutdown};
}

Proc StoreConnection::serve(Process& self, InitAck ack) {
  self.trap_exit(true);  // to close the store when the supervisor stops us
  if (!ack.claim_name(self)) co_return;
  detail::StoreSlot* slot = slot_.get();
  // A previous incarnation killed before it closed its store: the slot
  // closes that one first.
  auto opened = co_await client_->run<void>(
      self, [slot](Store&, StoreCallback<void> done) { slot->open(std::move(done)); },
      infinite_wait);
  if (!opened)
    self.exit(ExitReason::error("cannot open " + opener_.what + ": " + to_string(opened.error())));
  open_.store(true, std::memory_order_release);
  ack.ok(self);
  Pid parent = ack.starter();
  ExitReason why;
  for (;;) {
    Exit e = co_await self.receive<Exit>();
    if (e.from == parent) {
      why = std::move(e.reason);
      break;
    }
  }
  open_.store(false, std::memory_order_release);
  co_await client_->run<bool>(
      self,
      [slot](Store&, StoreCallback<bool> done) {
        slot->close([done = std::move(done)] { done(true); });
      },
      infinite_wait);
  self.exit(why);
}

}  // namespace troupe
