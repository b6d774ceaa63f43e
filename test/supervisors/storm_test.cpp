// A crash storm: 10k named children crashing at random for two seconds
// under one supervisor; afterwards every child runs, registered once.
#include <CppUTest/TestHarness.h>

#include <random>
#include <set>

#include "test/support/supervisor_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

constexpr int storm_children = 10'000;
constexpr auto storm_length = 2s;

struct Boom {};
struct Alive {
  using reply = bool;
};

// Crashes at a random moment of its life while the storm lasts.
struct StormChild : Server<StormChild> {
  using calls = types<Alive>;
  using infos = types<Boom>;

  explicit StormChild(std::shared_ptr<std::atomic<bool>> storm) : storm(std::move(storm)) {}

  void init() {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<int> ms(20, 1000);
    if (storm->load()) process().send_after(std::chrono::milliseconds(ms(rng)), pid(), Boom{});
  }
  void handle_info(const Boom&) {
    if (storm->load()) throw std::runtime_error("storm");
  }
  bool handle_call(const Alive&) { return true; }

  std::shared_ptr<std::atomic<bool>> storm;
};

std::string name_of(int i) {
  return "storm/" + std::to_string(i);
}

}  // namespace

std::atomic<std::size_t> storm_crashes{0};

TEST_GROUP(CrashStorm){void setup() override{storm_crashes = 0;
set_supervisor_log([](const SupervisorEvent& e) {
  if (e.kind == SupervisorEvent::Kind::child_crashed) storm_crashes.fetch_add(1);
});
}
void teardown() override {
  set_supervisor_log(&log_supervisor_event);
}
}
;

TEST(CrashStorm, EveryChildRunsAndIsRegisteredOnceAfterTheStorm) {
  Runtime rt({.schedulers = 2});
  auto storm = std::make_shared<std::atomic<bool>>(true);
  std::size_t running = 0, registered = 0, distinct = 0, mismatched = 0;
  bool answered = false;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    SupervisorSpec spec{.intensity = 1'000'000'000, .period = 1s};
    for (int i = 0; i < storm_children; ++i)
      spec.children.push_back({.id = name_of(i),
                               .start = server_child<StormChild>(storm),
                               .shutdown = brutal_kill,
                               .name = name_of(i)});
    Pid sup = (co_await start_supervisor(self, std::move(spec))).value();
    co_await self.sleep_for(storm_length);  // the storm's duration, not a synchronisation
    storm->store(false);

    // Ask every child; one that was crashing as the storm ended shows up as a
    // failed call, and its restart was queued at the supervisor before the
    // Down we got, so asking the supervisor again sees the new incarnation.
    std::vector<ChildInfo> children;
    for (int round = 0; round < 100 && !answered; ++round) {
      children = (co_await which_children(self, sup)).value();
      answered = true;
      for (auto& c : children) {
        if (!c.pid || !(co_await call(self, c.pid, Alive{}))) {
          answered = false;
          break;
        }
      }
    }
    for (auto& c : children) running += c.pid.valid();
    auto names = self.runtime().registry().list("storm/");
    registered = names.size();
    std::set<Pid> pids;
    for (std::size_t i = 0; i < names.size(); ++i) pids.insert(names[i].second);
    distinct = pids.size();
    for (auto& c : children)
      if (self.runtime().registry().whereis(c.id) != c.pid) ++mismatched;
    self.exit(sup, troupe::shutdown);
    co_await self.receive(when([sup](const Exit& e) { return e.from == sup; }, [](Exit&) {}));
  });
  CHECK(rt.run_for(60s));
  CHECK(answered);
  LONGS_EQUAL(storm_children, running);
  LONGS_EQUAL(storm_children, registered);
  LONGS_EQUAL(storm_children, distinct);
  LONGS_EQUAL(0, mismatched);
  CHECK(storm_crashes.load() > storm_children);  // every child crashed about twice or more
}
