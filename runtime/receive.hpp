#pragma once
// Clauses of a selective receive:
//
//   co_await self.receive(
//       [&](const Ping& p) { ... },                       // matches by type
//       troupe::when([](const Job& j) { return j.urgent; },  // type + guard
//                    [&](Job& j) { ... }),
//       troupe::after(5s, [&] { ... }));                   // timeout (0 = poll)
//
// Clauses are tried in order against each message, oldest first; the first
// message that any clause matches is taken out of the mailbox and handed to
// that clause. Messages no clause matches stay, in order, for a later
// receive. receive() returns what the chosen clause returns (all clauses
// must return the same type, or void). A handler taking `AnyMessage&`
// matches every message.

#include <chrono>
#include <functional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "runtime/detail/message.hpp"
#include "runtime/export.hpp"

namespace troupe {

using Duration = std::chrono::steady_clock::duration;

// Any message, for catch-all clauses (e.g. logging what nobody expected).
class TROUPE_EXPORT AnyMessage {
 public:
  explicit AnyMessage(detail::MessageNode* node) : node_(node) {}
  template <class T>
  bool is() const {
    return node_->type == detail::type_of<T>();
  }
  // The payload; only valid when is<T>().
  template <class T>
  T& get() const {
    return detail::payload<T>(node_);
  }
  std::string_view type_name() const { return node_->type->name; }

 private:
  detail::MessageNode* node_;
};

namespace detail {

template <class F>
struct callable_traits : callable_traits<decltype(&std::remove_cvref_t<F>::operator())> {};
template <class C, class R, class A>
struct callable_traits<R (C::*)(A) const> {
  using arg = A;
  using ret = R;
};
template <class C, class R, class A>
struct callable_traits<R (C::*)(A)> {
  using arg = A;
  using ret = R;
};
template <class R, class A>
struct callable_traits<R (*)(A)> {
  using arg = A;
  using ret = R;
};

inline bool user_visible(const MessageNode* n) {
  return n->kind == MsgKind::user || n->kind == MsgKind::exit_msg || n->kind == MsgKind::down;
}

template <class A, class F>
decltype(auto) invoke_with_payload(F& f, MessageNode* node) {
  using T = std::remove_cvref_t<A>;
  if constexpr (std::is_same_v<T, AnyMessage>) {
    AnyMessage any(node);
    return f(any);
  } else if constexpr (std::is_lvalue_reference_v<A>) {
    return f(payload<T>(node));
  } else {
    return f(std::move(payload<T>(node)));
  }
}

// A handler matched by the type of its single parameter.
template <class F>
struct TypeClause {
  using Arg = typename callable_traits<F>::arg;
  using T = std::remove_cvref_t<Arg>;
  using result_type = typename callable_traits<F>::ret;
  F handler;

  bool matches(MessageNode* n) const {
    if constexpr (std::is_same_v<T, AnyMessage>)
      return user_visible(n);
    else
      return n->type == type_of<T>() && user_visible(n);
  }
  result_type invoke(MessageNode* n) { return invoke_with_payload<Arg>(handler, n); }
};

template <class P, class F>
struct GuardClause {
  static constexpr bool is_troupe_clause = true;
  using Arg = typename callable_traits<F>::arg;
  using T = std::remove_cvref_t<Arg>;
  using result_type = typename callable_traits<F>::ret;
  P guard;
  F handler;

  bool matches(MessageNode* n) const {
    return n->type == type_of<T>() && user_visible(n) && guard(std::as_const(payload<T>(n)));
  }
  result_type invoke(MessageNode* n) { return invoke_with_payload<Arg>(handler, n); }
};

template <class F>
struct AfterClause {
  static constexpr bool is_troupe_clause = true;
  using result_type = std::invoke_result_t<F&>;
  Duration timeout;
  F handler;
};

template <class C>
struct is_after : std::false_type {};
template <class F>
struct is_after<AfterClause<F>> : std::true_type {};

template <class C>
struct is_message_clause : std::true_type {};
template <class F>
struct is_message_clause<AfterClause<F>> : std::false_type {};

// Built clauses (when, after, internal ones) say so; anything else is a
// handler to wrap in a TypeClause. Decided without instantiating TypeClause,
// so a non-clause argument just makes receive(...) not viable.
template <class D>
concept built_clause = requires {
  D::is_troupe_clause;
};

template <class C, class D = std::remove_cvref_t<C>>
using clause_t = std::conditional_t<built_clause<D>, D, TypeClause<D>>;

template <class C>
clause_t<C> make_clause(C&& c) {
  return clause_t<C>{std::forward<C>(c)};
}

}  // namespace detail

// A clause matching messages of the handler's parameter type for which
// `guard(const T&)` is true.
template <class P, class F>
auto when(P guard, F handler) {
  return detail::GuardClause<P, F>{std::move(guard), std::move(handler)};
}

// A wait that never ends in practice. after(infinite_wait, ...) (or longer)
// arms no timer: it waits as a receive without after() does, for a receive
// whose timeout is only sometimes needed (Erlang's `after infinity`).
inline constexpr Duration infinite_wait = std::chrono::hours(24 * 365 * 10);

// The timeout clause: runs `handler` when no message matched within
// `timeout`. after(0ms, ...) polls: it never suspends.
template <class F>
auto after(Duration timeout, F handler) {
  return detail::AfterClause<F>{timeout, std::move(handler)};
}

}  // namespace troupe
