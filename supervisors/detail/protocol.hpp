#pragma once
// The calls a supervisor serves (behind the functions of supervisor.hpp). Internal.

#include <string>
#include <vector>

#include "runtime/export.hpp"
#include "supervisors/supervisor.hpp"

namespace troupe::detail {

using ChildResult = Result<Pid, ChildError>;
using ChildDone = Result<void, ChildError>;

struct TROUPE_EXPORT StartChildReq {
  using reply = ChildResult;
  ChildSpec spec;
};
struct TROUPE_EXPORT TerminateChildReq {
  using reply = ChildDone;
  std::string id;  // static children by id, or
  Pid pid;         // any child by Pid
};
struct TROUPE_EXPORT RestartChildReq {
  using reply = ChildResult;
  std::string id;
};
struct TROUPE_EXPORT DeleteChildReq {
  using reply = ChildDone;
  std::string id;
};
struct TROUPE_EXPORT WhichChildrenReq {
  using reply = std::vector<ChildInfo>;
};
struct TROUPE_EXPORT CountChildrenReq {
  using reply = ChildCounts;
};

// Time to restart the child with this key (after a backoff, or to retry a failed start).
struct RestartDue {
  std::uint64_t key = 0;
};

}  // namespace troupe::detail
