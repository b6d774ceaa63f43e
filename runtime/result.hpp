#pragma once
// A value or an error, for expected failures at API boundaries.

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace troupe {

// A plain message as an error: Result<T, std::string>.
inline const std::string& to_string(const std::string& message) {
  return message;
}

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class Result {
 public:
  template <class U = T>
  requires std::is_constructible_v<T, U&&> Result(U&& value)
      : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  template <class G>
  Result(Unexpected<G> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Only when !ok().
  const E& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (ok()) return;
    // Every error type has a free to_string beside it (docs/runtime.md, "Errors").
    throw std::runtime_error("Result holds an error: " + to_string(error()));
  }
  std::variant<T, E> v_;
};

// Result<void, E>.
template <class E>
class Result<void, E> {
 public:
  Result() = default;
  template <class G>
  Result(Unexpected<G> e) : error_(std::move(e.error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // Throws when the operation failed.
  void value() const {
    if (!ok_) throw std::runtime_error("Result holds an error: " + to_string(error_));
  }
  const E& error() const { return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace troupe
