#pragma once
// The supervisor behaviour itself: a server holding the children, started by
// the functions of supervisor.hpp. Internal: every member runs on the
// supervisor's own process.

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/server.hpp"
#include "supervisors/detail/protocol.hpp"
#include "supervisors/restart_window.hpp"

namespace troupe::detail {

struct SupervisorConfig {
  SupervisorSpec spec;
  bool dynamic = false;
  std::size_t max_children = unlimited;
};

class SupervisorBehaviour : public Server<SupervisorBehaviour> {
 public:
  using calls = types<StartChildReq, TerminateChildReq, RestartChildReq, DeleteChildReq,
                      WhichChildrenReq, CountChildrenReq>;
  using infos = types<Exit, RestartDue>;

  explicit SupervisorBehaviour(SupervisorConfig config);

  Task<> init();
  Task<ChildResult> handle_call(StartChildReq& r);
  Task<ChildDone> handle_call(TerminateChildReq& r);
  Task<ChildResult> handle_call(RestartChildReq& r);
  ChildDone handle_call(DeleteChildReq& r);
  std::vector<ChildInfo> handle_call(const WhichChildrenReq&);
  ChildCounts handle_call(const CountChildrenReq&);
  Task<> handle_info(Exit& e);
  Task<> handle_info(RestartDue& r);
  Task<> terminate(const ExitReason& reason);

 private:
  using Clock = std::chrono::steady_clock;
  struct Child {
    std::uint64_t key = 0;
    ChildSpec spec;
    Pid pid;                  // the running incarnation, or null
    bool restarting = false;  // waiting for a backoff delay or a retried start
    unsigned backoff_n = 0;   // consecutive restarts, for the backoff delay
    Clock::time_point started_at{};
  };
  using It = std::list<Child>::iterator;

  It add(ChildSpec spec);
  void remove(It it);
  void report(SupervisorEvent::Kind kind, const Child& c, Pid pid, ExitReason reason = {},
              Duration delay = {});

  Task<StartResult> start(It it, bool restart);
  Task<> stop_child(It it);
  Task<> stop_all();
  Task<> stop_all_at_once();
  Task<bool> await_down(Ref monitor, Duration timeout);

  Task<> child_exited(It it, Pid old, ExitReason reason);
  Task<> delay_restart(It it);
  Task<> restart(It it);
  std::vector<It> group_of(It it);
  Task<> stop_siblings(It it, const std::vector<It>& group);
  void retry_later(It it);
  bool auto_shutdown_due() const;

  SupervisorConfig config_;
  RestartWindow window_;
  std::list<Child> children_;  // in start order
  std::unordered_map<Pid, It> by_pid_;
  std::unordered_map<std::uint64_t, It> by_key_;
  std::unordered_map<std::string, It> by_id_;  // static supervisors
  std::uint64_t next_key_ = 1;
};

}  // namespace troupe::detail
