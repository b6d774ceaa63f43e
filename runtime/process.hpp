#pragma once
// A process: a green thread (a C++20 coroutine) with a mailbox, scheduled on
// one of the runtime's libuv loops. Its body receives `Process& self`:
//
//   rt.spawn([](troupe::Process& self) -> troupe::Proc {
//     for (;;) co_await self.receive([&](const Ping& p) { self.send(p.from, Pong{}); });
//   });
//
// Thread safety: every member is for the process's own body (and the
// coroutines it awaits) only, on its scheduler's thread — except self(),
// which is a plain value. Other threads talk to a process by Pid through
// Runtime::send / Runtime::exit.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/call.hpp"
#include "runtime/clock.hpp"
#include "runtime/detail/message.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"
#include "runtime/messages.hpp"
#include "runtime/pid.hpp"
#include "runtime/receive.hpp"
#include "runtime/spawn_options.hpp"
#include "runtime/task.hpp"

namespace troupe {

class Runtime;
class Process;
template <class F>
class OffloadAwaitable;

inline constexpr Duration default_call_timeout = std::chrono::seconds(5);

// A timer started by send_after; cancel it with Process::cancel_timer.
struct TROUPE_EXPORT TimerRef {
  std::uint64_t id = 0;
  bool valid() const { return id != 0; }
};

namespace detail {

class Scheduler;
class ProcessTable;
struct SimAccess;
struct SharedRelations;
struct OwnRelations;

// A type-erased process body: the callable and how to start and free it.
struct TROUPE_EXPORT Body {
  Proc (*start)(void* fn, Process& self) = nullptr;
  void* fn = nullptr;
  void (*free)(void* fn) noexcept = nullptr;
};

// What a live process keeps of its body: the callable outlives the frame.
struct TROUPE_EXPORT BodyStorage {
  void* fn = nullptr;
  void (*free)(void* fn) noexcept = nullptr;
};

template <class F>
Body make_body(F&& f) {
  using Fn = std::decay_t<F>;
  Body body;
  body.start = [](void* fn, Process& self) -> Proc {
    return (*static_cast<Fn*>(fn))(self);
  };
  if constexpr (std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>) {
    static Fn shared;  // stateless: every process may share one instance
    body.fn = &shared;
    body.free = [](void*) noexcept {
    };
  } else {
    void* mem = pool_alloc(sizeof(Fn));
    try {
      body.fn = new (mem) Fn(std::forward<F>(f));
    } catch (...) {
      pool_free(mem, sizeof(Fn));
      throw;
    }
    body.free = [](void* fn) noexcept {
      static_cast<Fn*>(fn)->~Fn();
      pool_free(fn, sizeof(Fn));
    };
  }
  return body;
}

// Work a process waits for outside its mailbox (offload).
struct TROUPE_EXPORT ExternalOp {
  Process* process = nullptr;
  Scheduler* scheduler = nullptr;
  std::uint32_t generation = 0;
  std::exception_ptr error;
  virtual void run() noexcept = 0;  // on libuv's thread pool
  virtual ~ExternalOp() = default;
};

template <class V>
MessageNode* make_reply(Ref ref, V&& value) {
  auto* node = make_message<std::decay_t<V>>(MsgKind::reply, std::forward<V>(value));
  node->aux = ref.id;
  return node;
}

template <class R>
struct ReplyClause {
  static constexpr bool is_troupe_clause = true;
  using result_type = CallResult<R>;
  std::uint64_t ref;
  bool matches(MessageNode* n) const { return n->kind == MsgKind::reply && n->aux == ref; }
  result_type invoke(MessageNode* n) {
    if (n->type != type_of<R>())
      return unexpected(CallError{CallError::Kind::bad_reply, {}, std::string(n->type->name)});
    return result_type(std::move(payload<R>(n)));
  }
};

template <class... Cs>
class ReceiveAwaitable;

}  // namespace detail

class TROUPE_EXPORT Process {
 public:
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  Pid self() const { return Pid(slot_, gen_); }
  Runtime& runtime() const;

  // --- messages -----------------------------------------------------------
  // Queues `msg` for `to`. Order is preserved per sender. Never blocks.
  template <class T>
  SendResult send(Pid to, T&& msg) {
    return deliver(
        to, detail::make_message<std::decay_t<T>>(detail::MsgKind::user, std::forward<T>(msg)));
  }

  // Like send, but when `to` has a bounded mailbox with Overflow::reject and
  // it is full, waits (without blocking the scheduler) until the receiver
  // has worked it down to half, then sends: backpressure from a slow
  // consumer. Gives mailbox_full only after `timeout`. Must be co_awaited.
  template <class T>
  Task<SendResult> send_when_room(Pid to, T msg, Duration timeout = default_call_timeout);

  // Selective receive; see receive.hpp for the clauses. Must be co_awaited.
  template <class First, class... Rest>
  detail::ReceiveAwaitable<detail::clause_t<First>, detail::clause_t<Rest>...> receive(
      First&& first, Rest&&... rest);

  // The next message of type T (others stay in the mailbox).
  template <class T>
  Task<T> receive();
  // The next message of type T, or nullopt after `timeout`.
  template <class T>
  Task<std::optional<T>> receive(Duration timeout);

  // Suspends for `d` without touching the mailbox.
  Task<> sleep_for(Duration d);

  // Lets the other processes of this scheduler run first, and its loop poll
  // for I/O, then continues.
  auto yield() { return YieldAwaitable{*this, false}; }

  // A suspension point for long computations, cheap enough to call on every
  // iteration: continues at once (a load or two, no suspension) unless this
  // run of the process has lasted WatchdogOptions::yield_after, and then
  // yields as yield() does. A loop that calls it keeps its scheduler's
  // other processes and sockets responsive, and lets the watchdog's hard
  // limit end it there (runtime/watchdog.hpp). Work that cannot be cut in
  // pieces (a blocking call, a library's long function) belongs in offload().
  auto checkpoint() { return YieldAwaitable{*this, true}; }

  // The index of the scheduler this process runs on now.
  unsigned scheduler_index() const;

  // Sends `msg` to `to` after `delay`. The timer lives on this process's
  // scheduler; cancel it from this process.
  template <class T>
  TimerRef send_after(Duration delay, Pid to, T&& msg) {
    return start_timer(
        delay, to,
        detail::make_message<std::decay_t<T>>(detail::MsgKind::user, std::forward<T>(msg)));
  }
  // True if the timer had not fired yet (its message will never be sent).
  bool cancel_timer(TimerRef ref);

  // A reference unique within the runtime.
  Ref make_ref();

  // Number of messages waiting in the mailbox (after collecting new arrivals).
  std::size_t mailbox_size();
  // Messages a bounded mailbox dropped (drop_newest / drop_oldest).
  std::uint64_t dropped_messages() const { return dropped_.load(std::memory_order_relaxed); }

  // --- calls --------------------------------------------------------------
  // Sends Request<Req>{req} to `to` and waits for the reply of type R.
  // Errors: timeout (a late reply is discarded), noproc, exit (the callee
  // died first, with its reason), mailbox_full, bad_reply.
  template <class R, class Req>
  Task<CallResult<R>> call(Pid to, Req req, Duration timeout = default_call_timeout);

  // Awaiting an asynchronous completion (e.g. a store callback on another
  // thread): take a ref with expect_reply() *before* starting the work, hand
  // the work ReplyTo{self(), ref} (runtime.reply(to, value) is thread-safe),
  // then co_await await_reply<R>(ref, timeout). A reply that comes after the
  // timeout is discarded, never seen by a later wait.
  Ref expect_reply() {
    Ref ref = make_ref();
    begin_call(ref);
    return ref;
  }
  template <class R>
  Task<CallResult<R>> await_reply(Ref ref, Duration timeout = default_call_timeout);

  // Answers a call. At most once per request; later replies are discarded.
  template <class V>
  SendResult reply(const ReplyTo& to, V&& value) {
    return deliver(to.from, detail::make_reply(to.ref, std::forward<V>(value)));
  }
  template <class T, class V>
  SendResult reply(const Request<T>& req, V&& value) {
    return reply(req.reply_to, std::forward<V>(value));
  }

  // --- processes ----------------------------------------------------------
  // Starts a process; by default on this process's scheduler.
  template <class F>
  Pid spawn(F&& body, SpawnOptions options = {});
  template <class F>
  Pid spawn_link(F&& body, SpawnOptions options = {}) {
    options.link = true;
    return spawn(std::forward<F>(body), options);
  }

  // Links are bidirectional: when either ends abnormally, the other gets
  // an exit signal. Linking a dead pid sends this process a noproc signal.
  void link(Pid other);
  void unlink(Pid other);

  // Down{ref, pid, reason} arrives when `target` ends (at once, with
  // noproc, if it is not alive).
  Ref monitor(Pid target);
  // Removes the monitor; a Down for it is never delivered afterwards, even
  // if one was already queued (Erlang's demonitor(Ref, [flush])).
  void demonitor(Ref ref);

  // While trapping, exit signals arrive as Exit{from, reason} messages,
  // except the untrappable `kill`.
  void trap_exit(bool on) { trap_exit_ = on; }
  bool trapping_exits() const { return trap_exit_; }

  // Ends this process with `reason` (unwinds the body by throwing; do not
  // swallow troupe::detail::ExitRequest in catch(...)).
  [[noreturn]] void exit(ExitReason reason) { throw detail::ExitRequest{std::move(reason)}; }
  // Sends an exit signal to `target` (exit(pid, kill) is untrappable).
  void exit(Pid target, ExitReason reason);

  // Runs `fn` on libuv's thread pool and resumes with its result (or
  // rethrows its exception) without blocking this scheduler.
  template <class F>
  auto offload(F fn);

 private:
  friend class Runtime;
  friend class detail::Scheduler;
  friend class detail::ProcessTable;
  friend struct detail::SimAccess;  // troupe::testing
  friend class Registry;
  template <class... Cs>
  friend class detail::ReceiveAwaitable;
  template <class F>
  friend class OffloadAwaitable;

  enum class Wait : std::uint8_t { ready, receive, external };

  struct YieldAwaitable {
    Process& p;
    bool only_when_due;
    bool await_ready() const noexcept { return only_when_due && !p.slice_spent(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { p.suspend_yield(h); }
    void await_resume() const noexcept {}
  };
  bool slice_spent() noexcept;
  void suspend_yield(std::coroutine_handle<> h) noexcept;

  Process() = default;

  SendResult deliver(Pid to, detail::MessageNode* node);
  // deliver, except that on mailbox_full the node stays the caller's.
  SendResult deliver_or_keep(Pid to, detail::MessageNode* node);
  // Registers `waiter` for room in `to`'s mailbox; false if there is room
  // already (or `to` is gone): try again at once.
  bool wait_for_room(Pid to, ReplyTo waiter);
  void release_space_waiters();
  TimerRef start_timer(Duration delay, Pid to, detail::MessageNode* node);
  Pid spawn_body(detail::Body body, SpawnOptions options);

  // Receive protocol between the awaitable and the scheduler.
  using Matcher = bool (*)(void* ctx, detail::MessageNode* node);
  bool begin_receive(void* ctx, Matcher match, std::int64_t timeout_ns);
  void suspend_receive(std::coroutine_handle<> h) { resume_point_ = h; }
  detail::MessageNode* end_receive();
  bool scan();           // continues the waiting receive's scan; true on match
  bool receive_ready();  // scheduler: may the waiting receive resume?
  void suspend_ready(std::coroutine_handle<> h) {
    resume_point_ = h;
    wait_ = Wait::ready;
  }
  void begin_external(std::coroutine_handle<> h, detail::ExternalOp* op);
  detail::ExternalOp* end_external();

  void drain();  // moves new arrivals from the inbox into the mailbox
  void accept(detail::MessageNode* node);
  void on_exit_signal(Pid from, const ExitReason& reason, bool from_link);
  void set_pending_exit(ExitReason reason);
  void trim_mailbox();
  void consumed(detail::MessageNode* node);
  void begin_call(Ref ref);
  void end_call(Ref ref);
  void discard_node(detail::MessageNode* node);

  detail::SharedRelations& shared_relations();  // call with lock_ held
  detail::OwnRelations& own_relations();
  bool try_add_link(std::uint32_t gen, Pid other);
  bool try_add_monitor(std::uint32_t gen, Ref ref, Pid watcher);
  void remove_link(std::uint32_t gen, Pid other);
  void remove_monitor(std::uint32_t gen, Ref ref);
  void lock() noexcept;
  void unlock() noexcept { lock_.clear(std::memory_order_release); }

  // --- shared with other threads ---
  // generation << 2 | State; the generation ties wake-ups to one incarnation.
  std::atomic<std::uint64_t> state_{0};
  std::atomic<detail::MessageNode*> inbox_{nullptr};  // LIFO of new arrivals
  std::atomic<std::uint32_t> pending_user_{0};        // counted messages, when bounded
  std::atomic_flag lock_ = ATOMIC_FLAG_INIT;          // guards relations_ (links, monitors)
  std::atomic<bool> space_waiting_{false};            // senders wait in send_when_room
  std::atomic<std::uint64_t> dropped_{0};

  // --- set at spawn, read-only for others ---
  std::uint32_t slot_ = 0;
  std::uint32_t gen_ = 0;
  std::uint32_t max_mailbox_ = 0;
  Overflow overflow_ = Overflow::reject;
  // The owner; the watchdog may move a runnable process (runtime/watchdog.hpp)
  // and then changes it before queueing it elsewhere (the queue publishes it).
  detail::Scheduler* sched_ = nullptr;
  bool pinned_ = false;  // spawned on a fixed scheduler: never moved

  // --- owned by the process's scheduler thread ---
  Process* next_run_ = nullptr;  // run queues
  detail::NodeList mailbox_;
  detail::MessageNode* scan_prev_ = nullptr;  // last node a waiting receive examined
  detail::MessageNode* matched_ = nullptr;
  void* waiter_ctx_ = nullptr;
  Matcher waiter_match_ = nullptr;
  std::coroutine_handle<Proc::promise_type> top_;
  std::coroutine_handle<> resume_point_;
  detail::ExternalOp* external_op_ = nullptr;
  detail::SharedRelations* shared_ = nullptr;  // guarded by lock_
  detail::OwnRelations* own_ = nullptr;
  detail::BodyStorage body_;
  std::uint64_t receive_timer_ = 0;  // its timeout arrives as a MsgKind::timeout message
  std::uint64_t slice_run_ = 0;      // the run whose start slice_start_ns_ holds
  std::int64_t slice_start_ns_ = 0;
  std::int32_t reductions_ = 0;
  Wait wait_ = Wait::ready;
  bool trap_exit_ = false;
  bool timed_out_ = false;
  bool poll_only_ = false;      // the waiting receive has after(0)
  bool yield_pending_ = false;  // reductions ran out: requeue, then resume the receive
  bool external_done_ = false;
  bool has_exit_ = false;
  std::unique_ptr<ExitReason> pending_exit_;  // set with has_exit_; rare, so not inline
};

namespace detail {

template <class... Cs>
class ReceiveAwaitable {
  static constexpr std::size_t n = sizeof...(Cs);
  static constexpr std::size_t after_count = (std::size_t{is_after<Cs>::value} + ... + 0);
  static_assert(after_count <= 1, "receive takes at most one after() clause");

  template <class C>
  struct result_of {
    using type = typename C::result_type;
  };
  using R = std::common_type_t<typename result_of<Cs>::type...>;

 public:
  ReceiveAwaitable(Process& p, Cs... cs) : self_(p), clauses_(std::move(cs)...) {
    if constexpr (after_count == 1)
      std::apply([&](auto&... c) { (set_timeout(c), ...); }, clauses_);
  }

  bool await_ready() { return self_.begin_receive(this, &match_thunk, timeout_ns_); }
  void await_suspend(std::coroutine_handle<> h) { self_.suspend_receive(h); }
  R await_resume() {
    MessageNode* node = self_.end_receive();
    if (!node) return run_after(std::index_sequence_for<Cs...>{});
    struct Dispose {
      MessageNode* n;
      ~Dispose() { n->dispose(); }
    } guard{node};
    return dispatch(node, std::index_sequence_for<Cs...>{});
  }

 private:
  template <class C>
  void set_timeout(C& c) {
    if constexpr (is_after<C>::value) {
      if (c.timeout >= infinite_wait) return;  // as without after(): no timer
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(c.timeout).count();
      timeout_ns_ = ns < 0 ? 0 : ns;
    }
  }

  static bool match_thunk(void* ctx, MessageNode* node) {
    return static_cast<ReceiveAwaitable*>(ctx)->match(node, std::index_sequence_for<Cs...>{});
  }

  template <std::size_t... I>
  bool match(MessageNode* node, std::index_sequence<I...>) {
    return (try_clause<I>(node) || ...);
  }
  template <std::size_t I>
  bool try_clause(MessageNode* node) {
    using C = std::tuple_element_t<I, std::tuple<Cs...>>;
    if constexpr (is_message_clause<C>::value) {
      if (std::get<I>(clauses_).matches(node)) {
        index_ = I;
        return true;
      }
    }
    return false;
  }

  template <std::size_t... I>
  R dispatch(MessageNode* node, std::index_sequence<I...>) {
    if constexpr (std::is_void_v<R>) {
      (void)(dispatch_one<I>(node) || ...);
    } else {
      std::optional<R> out;
      (void)(dispatch_one<I>(node, out) || ...);
      return std::move(*out);
    }
  }
  template <std::size_t I, class... Out>
  bool dispatch_one(MessageNode* node, Out&... out) {
    using C = std::tuple_element_t<I, std::tuple<Cs...>>;
    if constexpr (is_message_clause<C>::value) {
      if (index_ != I) return false;
      if constexpr (sizeof...(Out) == 0)
        std::get<I>(clauses_).invoke(node);
      else
        (out.emplace(std::get<I>(clauses_).invoke(node)), ...);
      return true;
    } else {
      return false;
    }
  }

  template <std::size_t... I>
  R run_after(std::index_sequence<I...>) {
    if constexpr (std::is_void_v<R>) {
      (run_after_one<I>(), ...);
    } else {
      std::optional<R> out;
      (run_after_one<I>(out), ...);
      return std::move(*out);
    }
  }
  template <std::size_t I, class... Out>
  void run_after_one(Out&... out) {
    using C = std::tuple_element_t<I, std::tuple<Cs...>>;
    if constexpr (is_after<C>::value) {
      if constexpr (sizeof...(Out) == 0)
        std::get<I>(clauses_).handler();
      else
        (out.emplace(std::get<I>(clauses_).handler()), ...);
    }
  }

  Process& self_;
  [[no_unique_address]] std::tuple<Cs...> clauses_;
  std::int64_t timeout_ns_ = -1;  // no after(): wait forever
  std::uint32_t index_ = 0;
};

}  // namespace detail

template <class First, class... Rest>
detail::ReceiveAwaitable<detail::clause_t<First>, detail::clause_t<Rest>...> Process::receive(
    First&& first, Rest&&... rest) {
  return detail::ReceiveAwaitable<detail::clause_t<First>, detail::clause_t<Rest>...>(
      *this, detail::make_clause(std::forward<First>(first)),
      detail::make_clause(std::forward<Rest>(rest))...);
}

template <class T>
Task<T> Process::receive() {
  co_return co_await receive([](T& m) -> T { return std::move(m); });
}

template <class T>
Task<std::optional<T>> Process::receive(Duration timeout) {
  co_return co_await receive([](T& m) -> std::optional<T> { return std::move(m); },
                             after(timeout, [] { return std::optional<T>(); }));
}

inline Task<> Process::sleep_for(Duration d) {
  co_await receive(after(d, [] {}));
}

template <class F>
class OffloadAwaitable {
  using R = std::invoke_result_t<F&>;
  using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

  struct Op final : detail::ExternalOp {
    F fn;
    std::optional<Stored> result;
    explicit Op(F f) : fn(std::move(f)) {}
    void run() noexcept override {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
          result.emplace();
        } else {
          result.emplace(fn());
        }
      } catch (...) {
        error = std::current_exception();
      }
    }
  };

 public:
  OffloadAwaitable(Process& p, F fn) : self_(p), fn_(std::move(fn)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { self_.begin_external(h, new Op(std::move(fn_))); }
  R await_resume() {
    std::unique_ptr<Op> op(static_cast<Op*>(self_.end_external()));
    if (op->error) std::rethrow_exception(op->error);
    if constexpr (!std::is_void_v<R>) return std::move(*op->result);
  }

 private:
  Process& self_;
  F fn_;
};

template <class F>
auto Process::offload(F fn) {
  return OffloadAwaitable<F>(*this, std::move(fn));
}

template <class F>
Pid Process::spawn(F&& body, SpawnOptions options) {
  return spawn_body(detail::make_body(std::forward<F>(body)), options);
}

namespace detail {
struct TROUPE_EXPORT Room {};  // send_when_room: the mailbox has room again

// Owns a message node until it is handed over; frees it otherwise (e.g.
// when the process is killed while waiting).
struct TROUPE_EXPORT NodeOwner {
  MessageNode* node;
  ~NodeOwner() {
    if (node) node->dispose();
  }
};
}  // namespace detail

template <class T>
Task<SendResult> Process::send_when_room(Pid to, T msg, Duration timeout) {
  detail::NodeOwner owned{detail::make_message<T>(detail::MsgKind::user, std::move(msg))};
  const auto deadline = steady_now() + timeout;
  for (;;) {
    SendResult result = deliver_or_keep(to, owned.node);
    if (result != SendResult::mailbox_full) {
      owned.node = nullptr;  // delivered, or freed by deliver
      co_return result;
    }
    Ref ref = expect_reply();
    if (!wait_for_room(to, ReplyTo{self(), ref})) {
      end_call(ref);
      continue;
    }
    auto left = deadline - steady_now();
    auto room =
        co_await await_reply<detail::Room>(ref, left > Duration::zero() ? left : Duration::zero());
    if (!room) co_return SendResult::mailbox_full;
  }
}

template <class R>
Task<CallResult<R>> Process::await_reply(Ref ref, Duration timeout) {
  CallResult<R> result =
      co_await receive(detail::ReplyClause<R>{ref.id}, after(timeout, []() -> CallResult<R> {
                         return unexpected(CallError{CallError::Kind::timeout, {}, {}});
                       }));
  end_call(ref);
  co_return result;
}

template <class R, class Req>
Task<CallResult<R>> Process::call(Pid to, Req req, Duration timeout) {
  Ref ref = monitor(to);
  begin_call(ref);
  auto* node = detail::make_message<Request<Req>>(detail::MsgKind::user, std::move(req),
                                                  ReplyTo{self(), ref});
  if (deliver(to, node) == SendResult::mailbox_full) {
    end_call(ref);
    demonitor(ref);
    co_return unexpected(CallError{CallError::Kind::mailbox_full, {}, {}});
  }
  CallResult<R> result =
      co_await receive(detail::ReplyClause<R>{ref.id},
                       when([ref](const Down& d) { return d.ref == ref; },
                            [](Down& d) -> CallResult<R> {
                              if (d.reason.kind() == ExitReason::Kind::noproc)
                                return unexpected(CallError{CallError::Kind::noproc, d.reason, {}});
                              return unexpected(CallError{CallError::Kind::exit, d.reason, {}});
                            }),
                       after(timeout, []() -> CallResult<R> {
                         return unexpected(CallError{CallError::Kind::timeout, {}, {}});
                       }));
  end_call(ref);
  demonitor(ref);
  co_return result;
}

}  // namespace troupe
