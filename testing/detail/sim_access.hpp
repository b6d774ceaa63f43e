#pragma once
// What troupe::testing reaches inside the runtime (a friend of Runtime and
// Process). Internal: call only on the thread that drives the simulation,
// while no process runs.

#include <vector>

#include "runtime/detail/lifo.hpp"
#include "runtime/detail/message.hpp"
#include "runtime/detail/scheduler.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/process.hpp"
#include "runtime/runtime.hpp"

namespace troupe::detail {

struct SimAccess {
  // The simulation's only scheduler.
  static Scheduler& scheduler(Runtime& rt) { return *rt.scheduler_at(0); }
  // The live incarnation `pid`, or nullptr.
  static Process* process(const Runtime& rt, Pid pid) { return rt.lookup(pid); }
  static Pid self(const Process& p) { return p.self(); }
  // p fails at its next suspension point, as if it had crashed.
  static void fail(Process& p, ExitReason reason) { p.set_pending_exit(std::move(reason)); }

  // The user-visible messages queued for p, oldest first: its mailbox, then
  // what has arrived since it last looked (the inbox is newest first).
  static std::vector<const MessageNode*> queued(const Process& p) {
    std::vector<const MessageNode*> out;
    for (const MessageNode* n = p.mailbox_.head; n; n = n->next) out.push_back(n);
    std::vector<const MessageNode*> arrived;
    for (const MessageNode* n = p.inbox_.load(std::memory_order_acquire); n; n = n->next)
      if (n->target_gen == p.gen_ && !is_system(n->kind)) arrived.push_back(n);
    out.insert(out.end(), arrived.rbegin(), arrived.rend());
    return out;
  }

  // Takes `node` out of p's mailbox (the caller disposes of it); false if
  // it is not queued there. p must be waiting for a message it will never
  // get (a test probe): its scan restarts from the head.
  static bool take(Process& p, const MessageNode* node) {
    p.drain();
    MessageNode* prev = nullptr;
    for (MessageNode* n = p.mailbox_.head; n; prev = n, n = n->next) {
      if (n != node) continue;
      p.mailbox_.remove_after(prev, n);
      p.consumed(n);
      p.scan_prev_ = nullptr;
      return true;
    }
    return false;
  }
};

}  // namespace troupe::detail
