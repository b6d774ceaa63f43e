// A tour of Troupe's processes: spawn, messages, calls, links and monitors.
// `make run` runs it until the example apps arrive.
#include <cstdio>

#include "troupe.hpp"

using namespace std::chrono_literals;
using troupe::Pid;
using troupe::Proc;
using troupe::Process;

struct Add {
  int a, b;
};

// A process that answers Add calls until told to stop.
Proc adder(Process& self) {
  for (;;) {
    bool stop = false;
    co_await self.receive([&](troupe::Request<Add>& r) { self.reply(r, r.value.a + r.value.b); },
                          [&](const std::string& cmd) { stop = cmd == "stop"; });
    if (stop) co_return;
  }
}

int main() {
  troupe::Runtime rt({.schedulers = 2});
  rt.spawn([](Process& self) -> Proc {
    std::printf("main process %s on %u schedulers\n", self.self().to_string().c_str(),
                self.runtime().scheduler_count());

    // A call with a reply and a timeout.
    Pid add = self.spawn(adder);
    auto sum = co_await self.call<int>(add, Add{2, 40});
    std::printf("adder %s says 2 + 40 = %d\n", add.to_string().c_str(), sum.value());

    // A crash, seen through a monitor, with the exception as the reason.
    Pid fragile = self.spawn([](Process&) -> Proc {
      throw std::runtime_error("something broke");
      co_return;
    });
    self.monitor(fragile);
    auto down = co_await self.receive<troupe::Down>();
    std::printf("%s went down: %s\n", down.pid.to_string().c_str(), to_string(down.reason).c_str());

    // Trapping exits turns a linked crash into a message.
    self.trap_exit(true);
    self.spawn_link([](Process& p) -> Proc {
      p.exit(troupe::ExitReason::error("linked failure"));
      co_return;
    });
    auto exit = co_await self.receive<troupe::Exit>();
    std::printf("linked %s exited: %s\n", exit.from.to_string().c_str(),
                to_string(exit.reason).c_str());

    // A ring of 1000 processes passing a token 100000 times.
    Pid me = self.self();
    std::vector<Pid> ring;
    for (int i = 0; i < 1000; ++i)
      ring.push_back(self.spawn([me](Process& node) -> Proc {
        Pid next = co_await node.receive<Pid>();
        for (;;) {
          long k = co_await node.receive<long>();
          if (k < 0) co_return;
          node.send(k == 0 ? me : next, k == 0 ? -1L : k - 1);
        }
      }));
    for (std::size_t i = 0; i < ring.size(); ++i) self.send(ring[i], ring[(i + 1) % ring.size()]);
    auto t0 = std::chrono::steady_clock::now();
    self.send(ring[0], 100'000L);
    co_await self.receive<long>();
    auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf("100000 hops around a ring of 1000 in %lld us\n", static_cast<long long>(us));
    for (Pid node : ring) self.exit(node, troupe::kill);
    self.send(add, std::string("stop"));
  });
  rt.run();
  std::printf("all processes ended\n");
}
