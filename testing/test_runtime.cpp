#include "testing/test_runtime.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>

#include "runtime/detail/sim_hooks.hpp"
#include "testing/detail/sim_access.hpp"

namespace troupe::testing {

using detail::SimAccess;

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t choose_seed(const std::optional<std::uint64_t>& given) {
  if (given) return *given;
  if (const char* env = std::getenv("TROUPE_SEED"); env && *env)
    return std::strtoull(env, nullptr, 10);
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

void mix(std::uint64_t& digest, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    digest ^= (value >> (8 * i)) & 0xff;
    digest *= 0x100000001b3ull;  // FNV-1a
  }
}

bool traced(detail::MsgKind kind) {
  return kind == detail::MsgKind::user || kind == detail::MsgKind::exit_msg ||
         kind == detail::MsgKind::down;
}

}  // namespace

class TestRuntime::Hooks final : public detail::SimHooks {
 public:
  explicit Hooks(TestRuntime& t) : t_(t), draws_(t.seed_ ^ 0x5deece66dull) {}

  std::int64_t steady_now_ns() override { return t_.now_ns_; }
  std::int64_t system_now_ns() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t_.wall_start_.time_since_epoch())
               .count() +
           (t_.now_ns_ - start_ns);
  }

  // A stream of its own, so that the library's draws do not shift the
  // order of runs the seed decides.
  std::uint64_t random() override { return splitmix64(draws_); }

  void on_deliver(Pid from, Pid to, const detail::MessageNode& node) override {
    if (!traced(node.kind)) return;
    Delivery d{t_.next_seq_++, from, to, node.type, &node, false};
    mix(t_.digest_, d.seq);
    mix(t_.digest_, from.raw());
    mix(t_.digest_, to.raw());
    for (char c : node.type->name) mix(t_.digest_, static_cast<unsigned char>(c));
    t_.latest_seq_[&node] = d.seq;
    t_.deliveries_.push_back(d);
  }

  bool on_receive(Process& p, const detail::MessageNode& node) override {
    if (node.kind != detail::MsgKind::user) return true;
    auto it = t_.crashes_.find(SimAccess::self(p).raw());
    if (it == t_.crashes_.end() || --it->second.left > 0) return true;
    SimAccess::fail(p, std::move(it->second.reason));
    t_.crashes_.erase(it);
    return false;
  }

 private:
  TestRuntime& t_;
  std::uint64_t draws_;
};

TestRuntime::TestRuntime(TestOptions options)
    : seed_(choose_seed(options.seed)), rng_(seed_), wall_start_(options.wall_start) {
  if (!detail::simulation_build())
    throw std::logic_error(
        "troupe::testing needs the simulation build of the library: link libtroupe_testing.a "
        "(pkg-config troupe-testing) instead of libtroupe");
  if (detail::sim_hooks()) throw std::logic_error("troupe::testing: one TestRuntime at a time");
  if (uv_loop_init(&loop_) != 0) throw std::runtime_error("troupe::testing: uv_loop_init failed");
  hooks_ = std::make_unique<Hooks>(*this);
  detail::sim_hooks() = hooks_.get();
  RuntimeOptions ro;
  ro.loop = &loop_;
  ro.reductions = options.reductions;
  ro.handle_signals = false;
  ro.watchdog.enabled = false;  // a thread of its own: not deterministic
  rt_ = std::make_unique<Runtime>(ro);
}

TestRuntime::~TestRuntime() {
  rt_->shutdown();
  rt_.reset();
  detail::sim_hooks() = nullptr;
  uv_run(&loop_, UV_RUN_NOWAIT);  // close callbacks of what the stores left
  uv_loop_close(&loop_);
}

std::uint64_t TestRuntime::next_random() {
  return splitmix64(rng_);
}

SteadyTime TestRuntime::now() const {
  return SteadyTime(std::chrono::nanoseconds(now_ns_));
}

SystemTime TestRuntime::wall_now() const {
  return wall_start_ + std::chrono::duration_cast<SystemTime::duration>(elapsed());
}

bool TestRuntime::step() {
  auto& scheduler = SimAccess::scheduler(*rt_);
  std::size_t ready = scheduler.runnable();
  // The loop's own work (store callbacks, posted functions) interleaves
  // with process runs as the seed says, and runs whenever no process can.
  if (ready == 0 || next_random() % 4 == 0) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    ready = scheduler.runnable();
  }
  if (ready == 0) return false;
  return scheduler.run_one(next_random() % ready);
}

std::size_t TestRuntime::run() {
  std::size_t runs = 0;
  while (step()) ++runs;
  return runs;
}

void TestRuntime::fire_due() {
  SimAccess::scheduler(*rt_).fire_due(now_ns_);
}

void TestRuntime::advance(Duration d) {
  const std::int64_t target = now_ns_ + std::chrono::nanoseconds(d).count();
  for (;;) {
    run();
    auto next = SimAccess::scheduler(*rt_).next_deadline();
    if (!next || *next > target) break;
    now_ns_ = std::max(now_ns_, *next);
    fire_due();
  }
  now_ns_ = std::max(now_ns_, target);
  run();
}

bool TestRuntime::run_to_end(Duration limit) {
  const std::int64_t end = now_ns_ + std::chrono::nanoseconds(limit).count();
  for (;;) {
    run();
    if (rt_->process_count() == 0) return true;
    auto next = SimAccess::scheduler(*rt_).next_deadline();
    if (!next || *next > end) return false;
    now_ns_ = std::max(now_ns_, *next);
    fire_due();
  }
}

bool TestRuntime::advance_to_next_timer() {
  run();
  auto next = SimAccess::scheduler(*rt_).next_deadline();
  if (!next) return false;
  now_ns_ = std::max(now_ns_, *next);
  fire_due();
  run();
  return true;
}

namespace {
std::function<void(const std::string&)>& failure_handler() {
  static std::function<void(const std::string&)> handler;
  return handler;
}
}  // namespace

void set_failure_handler(std::function<void(const std::string&)> handler) {
  failure_handler() = std::move(handler);
}

void TestRuntime::fail(const std::string& what) const {
  const std::string message = what + " [troupe::testing seed=" + std::to_string(seed_) +
                              "; TROUPE_SEED=" + std::to_string(seed_) + " replays this run]";
  if (failure_handler()) failure_handler()(message);
  throw ExpectationFailed(message);
}

void TestRuntime::crash_at(Pid pid, std::size_t nth, ExitReason reason) {
  if (nth == 0) fail("crash_at: messages count from 1");
  crashes_.insert_or_assign(pid.raw(), Crash{nth, std::move(reason)});
}

Delivery* TestRuntime::next_delivery(Pid to, bool wait) {
  for (;;) {
    while (!deliveries_.empty() && deliveries_.front().checked) deliveries_.pop_front();
    for (auto& d : deliveries_)
      if (!d.checked && d.to == to) return &d;
    if (!wait || !step()) return nullptr;
  }
}

Delivery* TestRuntime::record_of(const detail::MessageNode* node) {
  auto it = latest_seq_.find(node);
  if (it == latest_seq_.end()) return nullptr;
  for (auto& d : deliveries_)
    if (d.seq == it->second) return &d;
  return nullptr;
}

bool TestRuntime::still_queued(const Delivery& d) const {
  auto latest = latest_seq_.find(d.node);
  if (latest == latest_seq_.end() || latest->second != d.seq) return false;  // node reused
  const Process* p = SimAccess::process(*rt_, d.to);
  if (!p) return false;
  auto queued = SimAccess::queued(*p);
  return std::find(queued.begin(), queued.end(), d.node) != queued.end();
}

std::size_t TestRuntime::mailbox_size(Pid pid) const {
  const Process* p = SimAccess::process(*rt_, pid);
  return p ? SimAccess::queued(*p).size() : 0;
}

const detail::MessageNode* TestRuntime::find_queued(Pid pid, const detail::TypeTag* type) const {
  const Process* p = SimAccess::process(*rt_, pid);
  if (!p) return nullptr;
  for (const detail::MessageNode* n : SimAccess::queued(*p))
    if (n->type == type) return n;
  return nullptr;
}

}  // namespace troupe::testing
