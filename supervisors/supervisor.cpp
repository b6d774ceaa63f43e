#include "supervisors/supervisor.hpp"

#include "supervisors/detail/supervisor_behaviour.hpp"

namespace troupe {

using detail::SupervisorBehaviour;
using detail::SupervisorConfig;

namespace {

constexpr Duration supervisor_call_timeout = infinite_wait;  // OTP: infinity

SupervisorConfig dynamic_config(const DynamicSupervisorSpec& spec) {
  return SupervisorConfig{
      SupervisorSpec{.strategy = one_for_one, .intensity = spec.intensity, .period = spec.period},
      true, spec.max_children};
}

ChildError unreachable(const CallError& e) {
  return ChildError{ChildError::Kind::unreachable, e.reason, {}, to_string(e)};
}

// Sends a request to the supervisor and unwraps the two layers of errors.
template <class Req>
Task<typename Req::reply> ask(Process& self, Pid sup, Req req) {
  auto r = co_await call(self, sup, std::move(req), supervisor_call_timeout);
  if (!r) co_return unexpected(unreachable(r.error()));
  co_return std::move(r).value();
}

}  // namespace

const char* to_string(ChildError::Kind kind) {
  switch (kind) {
    case ChildError::Kind::start_failed:
      return "start_failed";
    case ChildError::Kind::already_present:
      return "already_present";
    case ChildError::Kind::already_started:
      return "already_started";
    case ChildError::Kind::max_children:
      return "max_children";
    case ChildError::Kind::not_found:
      return "not_found";
    case ChildError::Kind::running:
      return "running";
    case ChildError::Kind::restarting:
      return "restarting";
    case ChildError::Kind::invalid_spec:
      return "invalid_spec";
    case ChildError::Kind::unreachable:
      return "unreachable";
  }
  return "unknown";
}

std::string to_string(const ChildError& e) {
  std::string out = to_string(e.kind);
  switch (e.kind) {
    case ChildError::Kind::start_failed:
      return out + ": " + to_string(e.reason);
    case ChildError::Kind::already_started:
      return out + ": " + e.pid.to_string();
    case ChildError::Kind::invalid_spec:
    case ChildError::Kind::unreachable:
      return out + ": " + e.message;
    default:
      return out;
  }
}

Task<StartResult> start_supervisor(Process& self, SupervisorSpec spec, std::string name) {
  return start_server<SupervisorBehaviour>(self, StartOptions{.name = std::move(name)},
                                           SupervisorConfig{std::move(spec), false, unlimited});
}

Task<StartResult> start_dynamic_supervisor(Process& self, DynamicSupervisorSpec spec,
                                           std::string name) {
  return start_server<SupervisorBehaviour>(self, StartOptions{.name = std::move(name)},
                                           dynamic_config(spec));
}

Pid start_root(Runtime& rt, const SupervisorSpec& spec, std::string name) {
  return spawn_server<SupervisorBehaviour>(rt, StartOptions{.name = std::move(name)},
                                           SupervisorConfig{spec, false, unlimited});
}

ChildStart supervisor_child(SupervisorSpec spec) {
  std::string label = "supervisor" + to_string(spec);
  return ChildStart(std::move(label),
                    [spec = std::move(spec)](Process& sup, const std::string& name) {
                      return start_supervisor(sup, spec, name);
                    });
}

ChildStart dynamic_supervisor(DynamicSupervisorSpec spec) {
  std::string label = "dynamic_supervisor" + to_string(spec);
  return ChildStart(std::move(label), [spec](Process& sup, const std::string& name) {
    return start_dynamic_supervisor(sup, spec, name);
  });
}

namespace detail {

Task<StartResult> adopt_child(Process& supervisor, Pid child, std::string name) {
  if (name.empty()) co_return child;
  auto registered = supervisor.runtime().registry().register_name(name, child);
  if (registered || registered.error().kind == RegisterError::Kind::noproc)
    co_return child;  // a child that already ended is reported by its exit signal
  Ref monitor = supervisor.monitor(child);
  supervisor.unlink(child);
  supervisor.exit(child, troupe::kill);
  co_await supervisor.receive(
      when([monitor](const Down& d) { return d.ref == monitor; }, [](Down&) {}));
  co_return unexpected(
      StartError{StartError::Kind::already_started, {}, registered.error().holder});
}

}  // namespace detail

Task<Result<Pid, ChildError>> start_child(Process& self, Pid sup, ChildSpec spec) {
  return ask(self, sup, detail::StartChildReq{std::move(spec)});
}

Task<Result<void, ChildError>> terminate_child(Process& self, Pid sup, std::string id) {
  return ask(self, sup, detail::TerminateChildReq{std::move(id), {}});
}

Task<Result<void, ChildError>> terminate_child(Process& self, Pid sup, Pid child) {
  return ask(self, sup, detail::TerminateChildReq{{}, child});
}

Task<Result<Pid, ChildError>> restart_child(Process& self, Pid sup, std::string id) {
  return ask(self, sup, detail::RestartChildReq{std::move(id)});
}

Task<Result<void, ChildError>> delete_child(Process& self, Pid sup, std::string id) {
  return ask(self, sup, detail::DeleteChildReq{std::move(id)});
}

Task<CallResult<std::vector<ChildInfo>>> which_children(Process& self, Pid sup) {
  return call(self, sup, detail::WhichChildrenReq{}, supervisor_call_timeout);
}

Task<CallResult<ChildCounts>> count_children(Process& self, Pid sup) {
  return call(self, sup, detail::CountChildrenReq{}, supervisor_call_timeout);
}

}  // namespace troupe
