#pragma once
// The calls a supervisor serves (behind the functions of supervisor.hpp). Internal.

#include <string>
#include <vector>

#include "supervisors/supervisor.hpp"

namespace troupe::detail {

using ChildResult = Result<Pid, ChildError>;
using ChildDone = Result<void, ChildError>;

struct StartChildReq {
  using reply = ChildResult;
  ChildSpec spec;
};
struct TerminateChildReq {
  using reply = ChildDone;
  std::string id;  // static children by id, or
  Pid pid;         // any child by Pid
};
struct RestartChildReq {
  using reply = ChildResult;
  std::string id;
};
struct DeleteChildReq {
  using reply = ChildDone;
  std::string id;
};
struct WhichChildrenReq {
  using reply = std::vector<ChildInfo>;
};
struct CountChildrenReq {
  using reply = ChildCounts;
};

// Time to restart the child with this key (after a backoff, or to retry a failed start).
struct RestartDue {
  std::uint64_t key = 0;
};

}  // namespace troupe::detail
