#include "runtime/server.hpp"

namespace troupe {

using detail::InitAckMsg;

std::string to_string(const StartError& e) {
  switch (e.kind) {
    case StartError::Kind::failed:
      return "failed: " + e.reason.to_string();
    case StartError::Kind::already_started:
      return "already_started: " + e.holder.to_string();
    case StartError::Kind::timeout:
      return "timeout";
  }
  return "unknown";
}

void InitAck::send(Process& self, InitAckMsg::Status status, Pid holder) const {
  if (starter_) self.send(starter_, InitAckMsg{self.self(), status, holder});
}

bool InitAck::claim_name(Process& self) const {
  if (name_.empty()) return true;
  auto r = self.runtime().registry().register_name(name_, self.self());
  if (r) return true;
  send(self, InitAckMsg::Status::already_started, r.error().holder);
  return false;
}

void InitAck::ok(Process& self) const {
  send(self, InitAckMsg::Status::ok);
}

void InitAck::ignore(Process& self) const {
  send(self, InitAckMsg::Status::ignore);
}

namespace detail {

namespace {

// A linked process's exit signal is queued before its Down: once the Down is
// in, a trapped Exit from it is already in the mailbox (or never comes).
Task<> drop_exit(Process& parent, Pid child) {
  if (parent.trapping_exits())
    co_await parent.receive(when([child](const Exit& e) { return e.from == child; }, [](Exit&) {}),
                            after(Duration::zero(), [] {}));
}

// The new process is ending (or has ended): wait for it, so that the starter
// returns only once its name is free, and drop its exit message if trapped.
Task<ExitReason> await_end(Process& parent, Pid child, Ref monitor) {
  ExitReason reason =
      co_await parent.receive(when([monitor](const Down& d) { return d.ref == monitor; },
                                   [](Down& d) { return std::move(d.reason); }));
  co_await drop_exit(parent, child);
  co_return reason;
}

}  // namespace

Task<StartResult> await_start(Process& parent, Pid child, StartOptions options) {
  if (!child) co_return unexpected(StartError{StartError::Kind::failed, troupe::shutdown, {}});
  Ref monitor = parent.monitor(child);
  enum class Result { ok, ignore, taken, ended, timeout };
  Pid holder;
  ExitReason reason;
  Result outcome = co_await parent.receive(
      when([child](const InitAckMsg& a) { return a.child == child; },
           [&](InitAckMsg& a) {
             holder = a.holder;
             if (a.status == InitAckMsg::Status::ok) return Result::ok;
             return a.status == InitAckMsg::Status::ignore ? Result::ignore : Result::taken;
           }),
      when([monitor](const Down& d) { return d.ref == monitor; },
           [&](Down& d) {
             reason = std::move(d.reason);
             return Result::ended;
           }),
      after(options.timeout, [] { return Result::timeout; }));

  switch (outcome) {
    case Result::ok:
      parent.demonitor(monitor);
      co_return child;
    case Result::ignore:
      co_await await_end(parent, child, monitor);
      co_return Pid{};
    case Result::taken:
      co_await await_end(parent, child, monitor);
      co_return unexpected(StartError{StartError::Kind::already_started, {}, holder});
    case Result::ended:
      co_await drop_exit(parent, child);
      co_return unexpected(StartError{StartError::Kind::failed, std::move(reason), {}});
    case Result::timeout:
      if (options.link) parent.unlink(child);
      parent.exit(child, troupe::kill);
      co_await await_end(parent, child, monitor);
      co_return unexpected(StartError{StartError::Kind::timeout, {}, {}});
  }
  co_return unexpected(StartError{StartError::Kind::failed, std::move(reason), {}});
}

}  // namespace detail

}  // namespace troupe
