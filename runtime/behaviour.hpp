#pragma once
// The behaviour engine: one receive-and-dispatch loop for every behaviour
// whose callbacks are members of a class S — the server (server.hpp) and the
// gateway's sessions (net/gateway/session.hpp) run on it.
//
// S declares the application messages it takes, as lists of types:
//
//   using calls = troupe::types<Get>;    // handle_call(Get&[, const From&]) -> reply
//   using casts = troupe::types<Add>;    // handle_cast(Add&)   (sent with troupe::cast)
//   using infos = troupe::types<Tick>;   // handle_info(Tick&)  (plain messages)
//
// and writes one callback per type; each may be a plain function or a
// coroutine returning Task<...> (it may then co_await calls, offload, ...).
// Anything else goes to handle_unexpected(AnyMessage&) if S has it, after
// the behaviour's own machinery had its look (see consume_internal below).
//
// BehaviourLoop<S>::step(extra...) receives one message and runs its
// callback; `extra` are clauses of the behaviour kind itself (a server's
// parent exit, a session's connections), tried before S's types, and an
// optional after(...) clause. Each clause returns Pending: work to await
// before the next message, if any.

#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/process.hpp"
#include "runtime/receive.hpp"

// clang 14 cannot emit a non-member coroutine with vague linkage (inline or
// template) under -fsanitize=function ("Cannot represent a difference across
// sections"); such coroutines in headers opt out of that one UBSan check.
#if defined(__clang__) && __clang_major__ < 15
#define TROUPE_HEADER_COROUTINE [[clang::no_sanitize("function")]]
#else
#define TROUPE_HEADER_COROUTINE
#endif

namespace troupe {

// A list of message types, for a behaviour's `calls`, `casts` and `infos`.
template <class... Ts>
struct types {};

// Who is waiting for a call's answer; keep it to reply later (deferred reply).
using From = ReplyTo;

// A cast as the behaviour receives it (OTP's {'$gen_cast', Msg}).
template <class T>
struct Cast {
  T value;
};

namespace detail {

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};

template <class S>
auto calls_of() {
  if constexpr (requires { typename S::calls; })
    return typename S::calls{};
  else
    return types<>{};
}
template <class S>
auto casts_of() {
  if constexpr (requires { typename S::casts; })
    return typename S::casts{};
  else
    return types<>{};
}
template <class S>
auto infos_of() {
  if constexpr (requires { typename S::infos; })
    return typename S::infos{};
  else
    return types<>{};
}

// What a clause hands back to the loop: work still to await, if any.
using Pending = std::optional<Task<>>;

template <class Req, class S>
decltype(auto) invoke_call(S& s, Req& req, const From& from) {
  if constexpr (requires { s.handle_call(req, from); })
    return s.handle_call(req, from);
  else
    return s.handle_call(req);
}

template <class Req, class Ret>
constexpr void check_reply_type() {
  if constexpr (requires { typename Req::reply; }) {
    using R = typename Req::reply;
    static_assert(std::is_void_v<Ret> || std::is_convertible_v<Ret, R> ||
                      std::is_same_v<Ret, Task<R>> || std::is_same_v<Ret, Task<>>,
                  "handle_call must return Req::reply (or Task of it, or void)");
  }
}

// Runs `f()` and awaits it if it is a coroutine.
template <class F>
TROUPE_HEADER_COROUTINE Task<> run_callback(F f) {
  if constexpr (is_task<std::invoke_result_t<F&>>::value)
    co_await f();
  else
    f();
}

template <class S>
class BehaviourLoop {
 public:
  BehaviourLoop(Process& self, S& s) : self_(self), s_(s) {}

  // Receives one message and runs its callback (awaiting it if it is a
  // coroutine). `extra`: the behaviour kind's own clauses, tried first.
  template <class... Extra>
  Task<> step(Extra... extra) {
    Pending pending =
        co_await receive(calls_of<S>(), casts_of<S>(), infos_of<S>(), std::move(extra)...);
    if (pending) co_await *pending;
  }

 private:
  template <class... Cs, class... Ks, class... Is, class... Extra>
  auto receive(types<Cs...>, types<Ks...>, types<Is...>, Extra... extra) {
    return self_.receive(std::move(extra)..., call_clause<Cs>()..., cast_clause<Ks>()...,
                         info_clause<Is>()..., unexpected_clause());
  }

  template <class Req>
  auto call_clause() {
    return [this](Request<Req>& r) -> Pending {
      using Ret = decltype(invoke_call(s_, r.value, r.reply_to));
      check_reply_type<Req, Ret>();
      if constexpr (is_task<Ret>::value) {
        return call_async<Req>(std::move(r.value), r.reply_to);
      } else if constexpr (std::is_void_v<Ret>) {
        invoke_call(s_, r.value, r.reply_to);
        return std::nullopt;
      } else {
        self_.reply(r.reply_to, invoke_call(s_, r.value, r.reply_to));
        return std::nullopt;
      }
    };
  }

  // The request moves into this frame: the message it came in is gone by now.
  template <class Req>
  Task<> call_async(Req req, From from) {
    using Ret = decltype(invoke_call(s_, req, from));
    if constexpr (std::is_same_v<Ret, Task<>>)
      co_await invoke_call(s_, req, from);
    else
      self_.reply(from, co_await invoke_call(s_, req, from));
  }

  template <class Msg>
  auto cast_clause() {
    return [this](Cast<Msg>& c) -> Pending {
      if constexpr (is_task<decltype(s_.handle_cast(c.value))>::value)
        return cast_async<Msg>(std::move(c.value));
      else
        s_.handle_cast(c.value);
      return std::nullopt;
    };
  }
  template <class Msg>
  Task<> cast_async(Msg msg) {
    co_await s_.handle_cast(msg);
  }

  template <class Msg>
  auto info_clause() {
    return [this](Msg& m) -> Pending {
      if constexpr (is_task<decltype(s_.handle_info(m))>::value)
        return info_async<Msg>(std::move(m));
      else
        s_.handle_info(m);
      return std::nullopt;
    };
  }
  template <class Msg>
  Task<> info_async(Msg msg) {
    co_await s_.handle_info(msg);
  }

  // The behaviour's own machinery (a persistent state's write completions
  // and timers) sees the message first, through S's base class
  // consume_internal(AnyMessage&) -> bool; what it does not take goes to
  // S's handle_unexpected, else it is dropped.
  auto unexpected_clause() {
    return [s = &s_](AnyMessage& m) -> Pending {
      if constexpr (requires { s->consume_internal(m); })
        if (s->consume_internal(m)) return std::nullopt;
      if constexpr (requires { s->handle_unexpected(m); }) s->handle_unexpected(m);
      (void)s;
      return std::nullopt;
    };
  }

  Process& self_;
  S& s_;
};

}  // namespace detail
}  // namespace troupe
