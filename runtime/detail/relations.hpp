#pragma once
// Links and monitors of one process. Internal.

#include <string>
#include <utility>
#include <vector>

#include "runtime/messages.hpp"
#include "runtime/pid.hpp"

namespace troupe::detail {

// Written by other processes (link, monitor) under the owner's lock.
struct SharedRelations {
  std::vector<Pid> links;
  std::vector<std::pair<Ref, Pid>> monitored_by;  // (ref, watcher)
  std::vector<std::string> names;                 // registry names it holds
  std::vector<std::string> topics;                // registry topics it joined
  std::vector<ReplyTo> space_waiters;             // senders in send_when_room
};

// Touched only by the owning process.
struct OwnRelations {
  std::vector<std::pair<Ref, Pid>> monitors;  // (ref, target) this process set
  std::vector<Ref> active_calls;              // calls waiting for a reply
};

}  // namespace troupe::detail
