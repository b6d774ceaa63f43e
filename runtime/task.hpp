#pragma once
// Coroutine types: `Proc` is the body of a process, `Task<T>` a helper
// coroutine a process awaits (co_await some_task(self)). Both are lazy and
// single-owner; a Task must be awaited by the process that created it.

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

#include "runtime/detail/pool.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"

namespace troupe {

namespace detail {

// Frames come from the per-thread pool: a process costs a frame, not a stack.
struct TROUPE_EXPORT PooledFrame {
  static void* operator new(std::size_t size) { return pool_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_free(p, size); }
};

// Thrown by Process::exit(reason) to unwind the body; ends the process.
struct TROUPE_EXPORT ExitRequest {
  ExitReason reason;
};

// The reason an uncaught exception gives a process: names the exception.
TROUPE_EXPORT ExitReason reason_from_exception(std::exception_ptr e);

}  // namespace detail

// The return type of a process body: `[](troupe::Process& self) -> troupe::Proc {...}`.
class TROUPE_EXPORT Proc {
 public:
  struct promise_type : detail::PooledFrame {
    std::exception_ptr exception;

    Proc get_return_object() { return Proc{handle_type::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { exception = std::current_exception(); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Proc(Proc&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Proc& operator=(Proc&&) = delete;
  ~Proc() {
    if (handle_) handle_.destroy();
  }

  // Hands the frame to the runtime, which destroys it when the process ends.
  handle_type release() { return std::exchange(handle_, {}); }

 private:
  explicit Proc(handle_type h) : handle_(h) {}
  handle_type handle_;
};

namespace detail {

struct TROUPE_EXPORT TaskPromiseBase : PooledFrame {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().continuation;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::TaskPromise<T> {
    Task get_return_object() { return Task{handle_type::from_promise(*this)}; }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    handle_.promise().continuation = awaiting;
    return handle_;
  }
  T await_resume() { return handle_.promise().take(); }

 private:
  explicit Task(handle_type h) : handle_(h) {}
  handle_type handle_;
};

}  // namespace troupe
