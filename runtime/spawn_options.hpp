#pragma once
// How a new process is placed and how its mailbox is bounded.

#include <cstddef>
#include <cstdint>

#include "runtime/export.hpp"

namespace troupe {

// What a bounded mailbox does with a message that would exceed its limit.
enum class Overflow : std::uint8_t {
  reject,       // the sender's send() returns SendResult::mailbox_full
  drop_newest,  // the new message is dropped and counted (SendResult::dropped)
  drop_oldest,  // the oldest unconsumed message is dropped and counted
};

// Where a spawned process runs, within its group (below). A process stays on
// its scheduler, except that the watchdog moves runnable processes off a
// scheduler that one process holds (runtime/watchdog.hpp) to the other
// schedulers of its group; a process spawned on a fixed scheduler never moves.
enum class Placement : std::uint8_t {
  local,   // the spawning process's scheduler (if in the group, when one is named);
           // from a loop callback, its scheduler if in the group; else round robin
  spread,  // round robin over the group
};

// A set of schedulers with consecutive indices: the runtime's own
// (RuntimeOptions::schedulers), or one Runtime::add_schedulers made for work
// that must not share them (a gateway's sockets, a route of heavy sessions).
// Empty (count 0) means the runtime's own.
struct TROUPE_EXPORT SchedulerGroup {
  unsigned first = 0;
  unsigned count = 0;
  bool contains(unsigned index) const { return index >= first && index - first < count; }
  friend bool operator==(const SchedulerGroup&, const SchedulerGroup&) = default;
};

struct TROUPE_EXPORT SpawnOptions {
  Placement placement = Placement::local;
  SchedulerGroup group{};         // where placement chooses; empty: the runtime's own
  int scheduler = -1;             // a fixed scheduler index (never moved); overrides both
  std::uint32_t max_mailbox = 0;  // 0 = unbounded; counts ordinary messages only
  Overflow overflow = Overflow::reject;
  bool link = false;  // link to the spawner atomically (spawn_link)
};

// What send() did. Sending to a dead process is not an error (as in Erlang):
// it reports noproc and does nothing.
enum class SendResult : std::uint8_t { ok, noproc, mailbox_full, dropped };

}  // namespace troupe
