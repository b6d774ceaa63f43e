#pragma once
// Supervisors: processes that start, watch and restart their children from a
// spec (spec.hpp), with Erlang/OTP's semantics; events go to a log hook
// (events.hpp).
//
//   // From a process (linked to it; waits until every child has started):
//   auto sup = co_await troupe::start_supervisor(self, spec, "app");
//   // From outside any process, e.g. main() (the application's root):
//   troupe::Pid root = troupe::start_root(rt, spec);
//
// A supervisor traps exits. When its parent's exit signal arrives, or it
// gives up (restart intensity), or significant children end (auto_shutdown),
// it stops its children in reverse start order — each per its shutdown:
// brutal_kill, shutdown then kill after a timeout, or infinity — and exits.
// Exit signals from others are ignored (as in OTP); a root started with
// start_root has the application as its parent: stop it with
// rt.exit(root, troupe::shutdown) from any thread.
//
// Children are started synchronously: the supervisor waits for each one's
// initialisation (start_link, server init) before starting the next. A start
// that fails is reported as start_failed with its reason, distinct from a
// crash; if an initial start fails the supervisor stops the children started
// so far and its own start fails with {shutdown, failed_to_start_child ...}.
//
// The functions below that take `Process& self` are for that process's body
// only and must be co_awaited; `sup` is a supervisor's Pid or registered name.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/export.hpp"
#include "runtime/server.hpp"
#include "supervisors/events.hpp"
#include "supervisors/spec.hpp"

namespace troupe {

// --- starting supervisors ----------------------------------------------------------

// Starts a static supervisor linked to `self`, registered as `name` if given.
TROUPE_EXPORT Task<StartResult> start_supervisor(Process& self, SupervisorSpec spec,
                                                 std::string name = {});
// Starts a dynamic supervisor linked to `self`.
TROUPE_EXPORT Task<StartResult> start_dynamic_supervisor(Process& self, DynamicSupervisorSpec spec,
                                                         std::string name = {});
// Starts a static supervisor from outside any process (no parent, unlinked)
// and returns at once; it starts its children on its own. If one fails, the
// supervisor exits (see above) after reporting start_failed. Any thread.
TROUPE_EXPORT Pid start_root(Runtime& rt, const SupervisorSpec& spec, std::string name = {});

// --- child starts for specs --------------------------------------------------------

namespace detail {
// Registers `name` for the already spawned, linked `child`; undoes the spawn if taken.
TROUPE_EXPORT Task<StartResult> adopt_child(Process& supervisor, Pid child, std::string name);
}  // namespace detail

// A plain process body (Proc(Process&)), spawned linked to the supervisor.
// Its name, if any, is registered by the supervisor right after the spawn
// (no init to wait for: the start succeeds at once).
// `options` places it (by default on the supervisor's scheduler); link is implied.
template <class F>
ChildStart process_child(F body, SpawnOptions options = {}) {
  std::string label = "process<" + std::string(detail::type_name_of<F>()) + ">";
  return ChildStart(std::move(label),
                    [body = std::move(body), options](Process& sup, const std::string& name) {
                      return detail::adopt_child(sup, sup.spawn_link(body, options), name);
                    });
}

// A server S constructed from copies of `args` (server.hpp); its name is
// registered before its init, and the start waits for init.
template <class S, class... Args>
ChildStart server_child(Args... args) {
  std::string label = "server<" + std::string(detail::type_name_of<S>()) + ">";
  return ChildStart(std::move(label), [=](Process& sup, const std::string& name) {
    return start_server<S>(sup, StartOptions{.name = name}, args...);
  });
}

// A static supervisor as a child (give it .type = troupe::supervisor).
TROUPE_EXPORT ChildStart supervisor_child(SupervisorSpec spec);
// A dynamic supervisor as a child (give it .type = troupe::supervisor).
TROUPE_EXPORT ChildStart dynamic_supervisor(DynamicSupervisorSpec spec = {});

// --- managing children -------------------------------------------------------------

struct TROUPE_EXPORT ChildError {
  enum class Kind {
    start_failed,     // the child's start failed; `reason` says why
    already_present,  // a static child with that id exists (not running)
    already_started,  // a static child with that id is running as `pid`
    max_children,     // a dynamic supervisor is full
    not_found,        // no such child
    running,          // restart_child/delete_child of a running child
    restarting,       // restart_child/delete_child of a child waiting for its restart
    invalid_spec,     // `message` says what is wrong
    unreachable,      // the supervisor did not answer: `message` has the CallError
  };
  Kind kind = Kind::not_found;
  ExitReason reason;
  Pid pid;
  std::string message;
};
// "<kind>", or "<kind>: <reason, pid or message>".
TROUPE_EXPORT std::string to_string(const ChildError& e);
TROUPE_EXPORT const char* to_string(ChildError::Kind kind);

struct TROUPE_EXPORT ChildInfo {
  std::string id;
  Pid pid;  // null when not running
  ChildType type = worker;
  bool restarting = false;  // waiting for a backoff delay or a retried start
};

// OTP's count_children.
struct TROUPE_EXPORT ChildCounts {
  std::size_t specs = 0, active = 0, supervisors = 0, workers = 0;
};

// Adds and starts a child (static: appended last, unique id; dynamic: any id).
TROUPE_EXPORT Task<Result<Pid, ChildError>> start_child(Process& self, Pid sup, ChildSpec spec);
// Stops a child per its shutdown. Static children keep their spec (except
// temporary ones); dynamic children are removed.
TROUPE_EXPORT Task<Result<void, ChildError>> terminate_child(Process& self, Pid sup,
                                                             std::string id);
TROUPE_EXPORT Task<Result<void, ChildError>> terminate_child(Process& self, Pid sup, Pid child);
// Static supervisors: starts a stopped child again / forgets a stopped child.
TROUPE_EXPORT Task<Result<Pid, ChildError>> restart_child(Process& self, Pid sup, std::string id);
TROUPE_EXPORT Task<Result<void, ChildError>> delete_child(Process& self, Pid sup, std::string id);
// The children in start order / how many there are.
TROUPE_EXPORT Task<CallResult<std::vector<ChildInfo>>> which_children(Process& self, Pid sup);
TROUPE_EXPORT Task<CallResult<ChildCounts>> count_children(Process& self, Pid sup);

// The same, addressing the supervisor by registered name.
inline Pid whereis_supervisor(Process& self, std::string_view name) {
  return self.runtime().registry().whereis(name);
}
inline Task<Result<Pid, ChildError>> start_child(Process& self, std::string_view sup,
                                                 ChildSpec spec) {
  return start_child(self, whereis_supervisor(self, sup), std::move(spec));
}
inline Task<CallResult<std::vector<ChildInfo>>> which_children(Process& self,
                                                               std::string_view sup) {
  return which_children(self, whereis_supervisor(self, sup));
}
inline Task<CallResult<ChildCounts>> count_children(Process& self, std::string_view sup) {
  return count_children(self, whereis_supervisor(self, sup));
}

}  // namespace troupe
