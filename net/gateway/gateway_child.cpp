// Gateway::child_spec: the gateway as a child of the application's
// supervisor, made of the same pieces as start() and stop() (gateway.cpp).

#include "net/gateway/detail/route_state.hpp"
#include "net/gateway/gateway.hpp"
#include "net/ws/server.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe {

ChildSpec Gateway::child_spec(std::string id) {
  Gateway* gateway = this;
  auto start = [gateway](Process& sup, const std::string& name) {
    return start_link(
        sup,
        [gateway](Process& self, InitAck ack) -> Proc {
          return gateway->serve_as_child(self, std::move(ack));
        },
        StartOptions{.name = name});
  };
  // A supervisor as far as its parent is concerned: the routes' supervisor
  // is its child, and stopping takes as long as the sessions' on_stop.
  return ChildSpec{.id = std::move(id),
                   .start = ChildStart("gateway", std::move(start)),
                   .type = supervisor,
                   .shutdown = infinity};
}

Proc Gateway::serve_as_child(Process& self, InitAck ack) {
  self.trap_exit(true);  // to stop serving when the supervisor stops us
  if (!ack.claim_name(self)) co_return;
  // A previous incarnation that was killed left its server running and its
  // supervisor ending: both are gone before this one serves.
  co_await wind_down(self);
  if (server_->stopped()) server_ = make_server();
  auto routes = co_await start_supervisor(self, supervisor_spec());
  if (!routes)
    self.exit(
        ExitReason::error("the gateway's supervisor did not start: " + to_string(routes.error())));
  root_ = routes.value();
  std::error_code failed = co_await self.offload([this] { return open_server(); });
  if (failed) {
    co_await wind_down(self);
    self.exit(ExitReason::error("the gateway cannot listen on " + options_.server.address + ":" +
                                std::to_string(options_.server.port) + ": " + failed.message()));
  }
  ack.ok(self);
  const Pid parent = ack.starter();
  ExitReason why;
  for (;;) {
    Exit e = co_await self.receive<Exit>();
    if (e.from == parent || e.from == root_) {  // stopped, or the routes' supervisor gave up
      why = std::move(e.reason);
      break;
    }
  }
  co_await wind_down(self);
  self.exit(why);
}

// Stops accepting and closes the connections (off the scheduler: it waits
// for the loops), then stops the routes' supervisor and its sessions.
Task<> Gateway::wind_down(Process& self) {
  if (serving_) co_await self.offload([this] { close_server(); });
  if (!root_) co_return;
  Ref watch = self.monitor(root_);
  // Heeded from its parent; one whose parent was killed is ending already.
  self.exit(root_, troupe::shutdown);
  co_await self.receive(when([watch](const Down& d) { return d.ref == watch; }, [](Down&) {}));
  root_ = Pid{};
}

}  // namespace troupe
