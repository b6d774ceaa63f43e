#include "testing/detail/sim_access.hpp"
#include "testing/test_runtime.hpp"

namespace troupe::testing {

namespace {
struct NeverSent {};  // what a probe waits for: its mailbox only fills
}  // namespace

Probe TestRuntime::probe() {
  return Probe(
      *this, spawn([](Process& self) -> Proc { co_await self.receive([](const NeverSent&) {}); }));
}

detail::MessageNode* Probe::take_oldest(const std::string& want) {
  for (;;) {
    Process* p = detail::SimAccess::process(t_->runtime(), pid_);
    if (!p) t_->fail(want + ", but the probe is gone");
    auto queued = detail::SimAccess::queued(*p);
    if (!queued.empty()) {
      auto* node = const_cast<detail::MessageNode*>(queued.front());
      if (Delivery* d = t_->record_of(node)) d->checked = true;
      detail::SimAccess::take(*p, node);
      return node;
    }
    if (!t_->step()) t_->fail(want + ", nothing came");
  }
}

}  // namespace troupe::testing
