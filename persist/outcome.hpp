#pragma once
// Outcome<T, E>: persist/'s name for runtime's Result (a value or an expected
// error returned across API boundaries: a failed store write, a corrupt
// snapshot). Programming errors throw instead.

#include <type_traits>
#include <utility>

#include "runtime/result.hpp"

namespace troupe {

template <class T, class E>
using Outcome = Result<T, E>;

template <class E>
Unexpected<std::decay_t<E>> failure(E&& e) {
  return unexpected(std::forward<E>(e));
}

}  // namespace troupe
