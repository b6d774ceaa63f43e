#pragma once
// Outcome<T, E>: a value or an expected error, returned across persist/'s API
// boundaries (a failed store write, a corrupt snapshot). Programming errors
// throw instead.
//
// persist/ does not include runtime/ yet, so it keeps this small type of its
// own; both follow the same shape (ok(), value(), error()).

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace troupe {

// Wraps an error so that Outcome<T, E> can be built from it unambiguously.
template <class E>
struct Failure {
  E error;
};

template <class E>
Failure<std::decay_t<E>> failure(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class [[nodiscard]] Outcome {
 public:
  template <class U = T>
  requires std::is_constructible_v<T, U&&> Outcome(U&& value)
      : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  template <class G>
  Outcome(Failure<G> f) : v_(std::in_place_index<1>, std::move(f.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Throws std::logic_error naming the error when there is no value: asking
  // for the value of a failed operation is a programming error.
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // Only when !ok().
  const E& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (!ok()) throw std::logic_error("no value, the operation failed: " + error().to_string());
  }
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Outcome<void, E> {
 public:
  Outcome() = default;
  template <class G>
  Outcome(Failure<G> f) : error_(std::move(f.error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) throw std::logic_error("the operation failed: " + error_.to_string());
  }
  const E& error() const { return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace troupe
