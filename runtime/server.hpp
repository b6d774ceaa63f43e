#pragma once
// The server behaviour (OTP's gen_server): a process that owns some state and
// serves calls, casts and other messages one at a time through callbacks.
//
//   struct Get { using reply = int; };        // a call: `reply` is the answer's type
//   struct Add { int n; };                    // a cast
//   struct Counter : troupe::Server<Counter> {
//     using calls = troupe::types<Get>;
//     using casts = troupe::types<Add>;
//     int n = 0;
//     int handle_call(const Get&) { return n; }
//     void handle_cast(const Add& a) { n += a.n; }
//   };
//
//   auto pid = co_await troupe::start_server<Counter>(self, {.name = "counter"});
//   troupe::cast(self, "counter", Add{2});
//   auto n = co_await troupe::call(self, "counter", Get{});  // CallResult<int>
//
// Callbacks are public members of the derived class S, all run on the
// server's own process, one at a time; each may be a plain function or a
// coroutine returning Task<...> (it may then co_await calls, offload, ...):
//
//   init()                         after the name is registered, before the
//                                  starter is answered; throw, stop(reason) or
//                                  ignore() to fail the start. Default: nothing.
//   handle_call(Req&[, const From&]) -> R
//                                  for each Req in `calls`. Returning R replies
//                                  R; returning void means the handler replies
//                                  itself with reply(from, value), now or later
//                                  (a deferred reply). If Req has `using reply
//                                  = R`, a non-void return must be R.
//   handle_cast(Msg&)              for each Msg in `casts` (sent with cast()).
//   handle_info(Msg&)              for each Msg in `infos`: plain messages,
//                                  Exit (when trapping exits), Down, timers.
//   handle_unexpected(AnyMessage&) anything else; default: dropped.
//   terminate(const ExitReason&)   the server stops: stop(reason), a callback
//                                  threw or exited, or its parent's exit signal
//                                  arrived while it traps exits (for a server
//                                  spawned from outside, Runtime::exit is the
//                                  parent's). Not run when killed or when init
//                                  fails (as in OTP).
//
// A callback that throws ends the server with the exception as its exit
// reason (after terminate): the "let it crash" path to a supervisor.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "runtime/behaviour.hpp"
#include "runtime/export.hpp"
#include "runtime/process.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

// Why a synchronous start (start_link, start_server) did not give a process.
struct TROUPE_EXPORT StartError {
  enum class Kind {
    failed,           // the process ended before acknowledging; `reason` says why
    already_started,  // its name is held by `holder` (OTP {already_started, Pid})
    timeout,          // no acknowledgement within the timeout; the process was killed
  };
  Kind kind = Kind::failed;
  ExitReason reason;
  Pid holder;
};
TROUPE_EXPORT std::string to_string(const StartError& e);

// A started process, or why not. ok() with a null Pid: the process answered
// `ignore` (OTP) and ended without error.
using StartResult = Result<Pid, StartError>;

// How start_link / start_server spawn and wait.
struct TROUPE_EXPORT StartOptions {
  std::string name;                  // registered by the new process before init; empty: none
  bool link = true;                  // link to the starter (OTP start_link vs start)
  SpawnOptions spawn = {};           // placement and mailbox of the new process
  Duration timeout = infinite_wait;  // for the acknowledgement (OTP default: infinity)
};

namespace detail {
// The acknowledgement a synchronously started process sends its starter.
struct TROUPE_EXPORT InitAckMsg {
  enum class Status { ok, ignore, already_started };
  Pid child;
  Status status = Status::ok;
  Pid holder;
};
}  // namespace detail

// Given to a synchronously started process so it can answer its starter.
// Call exactly one of claim_name (on failure it answers already_started),
// ok, ignore, or end the process (the starter then gets its exit reason).
// Only the new process, from its own body.
class TROUPE_EXPORT InitAck {
 public:
  InitAck() = default;
  InitAck(Pid starter, std::string name) : starter_(starter), name_(std::move(name)) {}

  // Registers the start's name (if any) for this process. False: it is taken;
  // the starter has been answered already_started and the body should return.
  bool claim_name(Process& self) const;
  void ok(Process& self) const;
  void ignore(Process& self) const;
  Pid starter() const { return starter_; }
  const std::string& name() const { return name_; }

 private:
  void send(Process& self, detail::InitAckMsg::Status status, Pid holder = {}) const;
  Pid starter_;
  std::string name_;
};

namespace detail {
// Waits for `child`'s acknowledgement (or its end, or the timeout). Used by start_link.
TROUPE_EXPORT Task<StartResult> await_start(Process& parent, Pid child, StartOptions options);
}  // namespace detail

// OTP's proc_lib:start_link. Spawns `body(self, ack)` (a coroutine returning
// Proc) and waits, without blocking the scheduler, until it acknowledges with
// ack.ok(self) / ack.ignore(self), fails its claim_name, or ends. Messages
// other than the acknowledgement stay in the caller's mailbox. If linked, the
// caller does not trap exits and the new process fails, the caller dies with
// it (as in Erlang). Only from the process `parent`.
template <class F>
Task<StartResult> start_link(Process& parent, F body, StartOptions options = {}) {
  InitAck ack(parent.self(), options.name);
  SpawnOptions spawn = options.spawn;
  spawn.link = options.link;
  Pid child = parent.spawn([body = std::move(body), ack = std::move(ack)](
                               Process& self) mutable -> Proc { return body(self, ack); },
                           spawn);
  return detail::await_start(parent, child, std::move(options));
}

// --- the behaviour ------------------------------------------------------------------

template <class S>
class Server;

namespace detail {

// The body of a server process: construct, register, init, acknowledge, serve.
template <class S, class Args>
TROUPE_HEADER_COROUTINE Task<> serve(Process& self, InitAck ack, Args& args) {
  if (!ack.claim_name(self)) co_return;
  auto s = std::apply([](auto&... a) { return std::make_unique<S>(std::move(a)...); }, args);
  Server<S>& base = *s;
  base.self_ = &self;
  base.parent_ = ack.starter();
  co_await run_callback([&] { return s->init(); });
  if (base.ignored_) {
    ack.ignore(self);
    co_return;
  }
  if (base.stop_reason_) self.exit(*base.stop_reason_);
  ack.ok(self);

  BehaviourLoop<S> loop(self, *s);
  // Started from outside any process, the parent is the application: its
  // Runtime::exit signals come from the null Pid.
  const Pid parent = base.parent_;
  auto parent_exit = [&] {
    return when([parent](const Exit& e) { return e.from == parent; },
                [&base](Exit& e) -> Pending {
                  base.stop(e.reason);
                  return std::nullopt;
                });
  };
  for (;;) {
    std::optional<ExitReason> reason;
    try {
      co_await loop.step(parent_exit());
      reason = std::exchange(base.stop_reason_, std::nullopt);
    } catch (const ExitRequest& e) {
      reason = e.reason;
    } catch (...) {
      reason = reason_from_exception(std::current_exception());
    }
    if (reason) {
      co_await run_callback([&] { return s->terminate(*reason); });
      self.exit(*reason);
    }
  }
}

}  // namespace detail

// The base of a server: derive as `struct S : troupe::Server<S>` and write the
// callbacks described at the top of this file. The members below are for the
// callbacks only (the server's own process).
template <class S>
class Server {
 public:
  // Default callbacks; the derived class hides the ones it writes.
  void init() {}
  void terminate(const ExitReason&) {}

 protected:
  Process& process() const { return *self_; }
  Pid pid() const { return self_->self(); }
  // The starter (OTP's parent): its exit signal stops a server that traps exits.
  Pid parent() const { return parent_; }
  // Stops the server once the current callback returns: terminate(reason) runs,
  // then the process exits with `reason`. In init: the start fails with it.
  void stop(ExitReason reason = normal) { stop_reason_ = std::move(reason); }
  // From init: do not start (OTP's ignore); the starter gets a null Pid.
  void ignore() { ignored_ = true; }
  // Answers a call (for deferred replies; handle_call's return value replies otherwise).
  template <class V>
  void reply(const From& to, V&& value) {
    self_->reply(to, std::forward<V>(value));
  }

 private:
  template <class T, class A>
  friend Task<> detail::serve(Process&, InitAck, A&);

  Process* self_ = nullptr;
  Pid parent_;
  std::optional<ExitReason> stop_reason_;
  bool ignored_ = false;
};

// Starts a server S (constructed from `args`) linked to `self` and waits until
// its init has run: OTP's gen_server:start_link. Only from the process `self`.
template <class S, class... Args>
Task<StartResult> start_server(Process& self, StartOptions options, Args... args) {
  auto body = [args = std::make_tuple(std::move(args)...)](Process& p,
                                                           InitAck ack) mutable -> Proc {
    co_await detail::serve<S>(p, std::move(ack), args);
  };
  return start_link(self, std::move(body), std::move(options));
}

// Starts a server from outside any process, without waiting for its init
// (nobody could wait): it is unlinked and has no parent. Any thread.
template <class S, class... Args>
Pid spawn_server(Runtime& rt, StartOptions options, Args... args) {
  InitAck ack({}, std::move(options.name));
  return rt.spawn([ack = std::move(ack), args = std::make_tuple(std::move(args)...)](
                      Process& p) mutable -> Proc { co_await detail::serve<S>(p, ack, args); },
                  options.spawn);
}

// --- calling and casting ------------------------------------------------------------

namespace detail {
template <class R>
TROUPE_HEADER_COROUTINE Task<CallResult<R>> call_failed(CallError e) {
  co_return unexpected(std::move(e));
}
template <class Req>
concept has_reply = requires {
  typename Req::reply;
};
}  // namespace detail

// Calls the server `to` and waits for its reply (of type R; or Req::reply
// when Req declares it): the reply, or a CallError — timeout, noproc (no such
// process or name), or exit with the callee's reason if it died first. Only
// from the process `self`.
template <class R, class Req>
Task<CallResult<R>> call(Process& self, Pid to, Req req, Duration timeout = default_call_timeout) {
  return self.call<R>(to, std::move(req), timeout);
}
template <class R, class Req>
Task<CallResult<R>> call(Process& self, std::string_view name, Req req,
                         Duration timeout = default_call_timeout) {
  Pid to = self.runtime().registry().whereis(name);
  if (!to) return detail::call_failed<R>(CallError{CallError::Kind::noproc, troupe::noproc, {}});
  return self.call<R>(to, std::move(req), timeout);
}
template <detail::has_reply Req>
Task<CallResult<typename Req::reply>> call(Process& self, Pid to, Req req,
                                           Duration timeout = default_call_timeout) {
  return call<typename Req::reply>(self, to, std::move(req), timeout);
}
template <detail::has_reply Req>
Task<CallResult<typename Req::reply>> call(Process& self, std::string_view name, Req req,
                                           Duration timeout = default_call_timeout) {
  return call<typename Req::reply>(self, name, std::move(req), timeout);
}

// Sends `msg` to the server's handle_cast; never waits (OTP's gen_server:cast).
template <class T>
SendResult cast(Process& self, Pid to, T msg) {
  return self.send(to, Cast<T>{std::move(msg)});
}
template <class T>
SendResult cast(Process& self, std::string_view name, T msg) {
  return self.send(self.runtime().registry().whereis(name), Cast<T>{std::move(msg)});
}
// The same from outside any process. Any thread.
template <class T>
SendResult cast(Runtime& rt, Pid to, T msg) {
  return rt.send(to, Cast<T>{std::move(msg)});
}
template <class T>
SendResult cast(Runtime& rt, std::string_view name, T msg) {
  return rt.send(rt.registry().whereis(name), Cast<T>{std::move(msg)});
}

}  // namespace troupe
