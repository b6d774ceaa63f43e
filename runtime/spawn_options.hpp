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

// Where a spawned process runs. Processes never migrate between schedulers.
enum class Placement : std::uint8_t {
  local,   // the spawner's scheduler (round robin when spawned from outside)
  spread,  // round robin over all schedulers
};

struct TROUPE_EXPORT SpawnOptions {
  Placement placement = Placement::local;
  int scheduler = -1;             // a fixed scheduler index; overrides placement
  std::uint32_t max_mailbox = 0;  // 0 = unbounded; counts ordinary messages only
  Overflow overflow = Overflow::reject;
  bool link = false;  // link to the spawner atomically (spawn_link)
};

// What send() did. Sending to a dead process is not an error (as in Erlang):
// it reports noproc and does nothing.
enum class SendResult : std::uint8_t { ok, noproc, mailbox_full, dropped };

}  // namespace troupe
