#pragma once
// troupe::testing: deterministic tests of actors, on virtual time.
//
//   troupe::testing::TestRuntime t;             // seed: TROUPE_SEED, or a fresh one
//   Pid room = t.spawn(chat_room);
//   t.inject(Join{"ada"}).from(probe.pid()).to(room);
//   t.expect<Joined>().from(room).to(probe.pid());
//   t.advance(std::chrono::minutes(5));          // idle stops, alarms, backoffs: at once
//
// A TestRuntime is a Runtime with one scheduler and no threads of its own,
// driven by the test's thread: nothing runs until the test calls step(),
// run(), advance() or an expectation. Time is virtual: it stands still
// while processes run and moves only by advance() and
// advance_to_next_timer(), which fire the timers in deadline order, so
// receive timeouts, call timeouts, send_after, restart windows and
// backoffs, debounce windows, idle stops and alarms take microseconds and
// happen identically every time.
//
// Where the runtime's semantics allow more than one order (which runnable
// process goes next; Erlang promises only that the messages of one sender
// to one receiver arrive in order), the seed decides. A run replays
// bit-identically from its seed; every failure names it (TROUPE_SEED=N
// repeats the run). Deterministic with MemoryStore and FaultyStore (their
// callbacks run on the loop, which the simulation drives); real I/O
// (FileStore, Redis, sockets) may answer at any time.
//
// Link libtroupe_testing.a (pkg-config troupe-testing) instead of
// libtroupe.a: the library built with its simulation hooks compiled in.
// One TestRuntime at a time per program. Not thread-safe: use it from one
// thread. Failures throw ExpectationFailed (CppUTest reports an uncaught
// exception as the test's failure, with its message).

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "runtime/clock.hpp"
#include "runtime/detail/message.hpp"
#include "runtime/exit_reason.hpp"
#include "runtime/pid.hpp"
#include "runtime/receive.hpp"
#include "runtime/runtime.hpp"
#include "runtime/spawn_options.hpp"

namespace troupe::testing {

class ExpectationFailed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// What a failed expectation does, for every TestRuntime: called with the
// message (seed included); if it returns, ExpectationFailed is thrown.
// Test frameworks that do not catch exceptions install theirs
// (testing/cpputest.hpp does it for CppUTest). Empty: just throw.
void set_failure_handler(std::function<void(const std::string&)> handler);

struct TestOptions {
  // Orders runnable processes. nullopt: TROUPE_SEED from the environment,
  // else a fresh one (printed with every failure).
  std::optional<std::uint64_t> seed;
  // The virtual wall clock's start (system_now(): alarms, ages).
  SystemTime wall_start = SystemTime(std::chrono::seconds(1'767'225'600));  // 2026-01-01Z
  int reductions = 1000;  // as RuntimeOptions::reductions
};

// One message queued for a process, as the simulation saw it sent: user
// messages, trapped exits (Exit) and monitors' Down. Call replies travel
// outside this record (Process::call returns them).
struct Delivery {
  std::uint64_t seq = 0;  // 1, 2, ... in the order they were sent
  Pid from;               // empty: sent from outside any process (or a timer)
  Pid to;
  const detail::TypeTag* type = nullptr;
  const detail::MessageNode* node = nullptr;  // valid only while still queued
  bool checked = false;                       // matched by an expectation already
  std::string_view type_name() const { return type ? type->name : std::string_view("?"); }
};

template <class T>
class Expectation;
template <class T>
class Injection;
class Probe;

class TestRuntime {
 public:
  explicit TestRuntime(TestOptions options = {});
  // Ends every process (reason shutdown) and removes the simulation hooks.
  ~TestRuntime();
  TestRuntime(const TestRuntime&) = delete;
  TestRuntime& operator=(const TestRuntime&) = delete;

  Runtime& runtime() { return *rt_; }
  uv_loop_t* loop() { return &loop_; }
  std::uint64_t seed() const { return seed_; }

  template <class F>
  Pid spawn(F&& body, SpawnOptions options = {}) {
    return rt_->spawn(std::forward<F>(body), options);
  }

  // --- running ---
  // Runs one ready process until it next waits (or, if none is ready, lets
  // the loop deliver what stores and posted work have ready). False when
  // nothing at all could run.
  bool step();
  // Steps until nothing can run at this instant; returns the number of
  // process runs. Time does not move.
  std::size_t run();
  // Time moves by d: each timer that comes due meanwhile fires at its
  // deadline, in order, and what it wakes runs before the next one fires.
  void advance(Duration d);
  // Runs, then moves time to the next timer's deadline and fires it (and
  // any other due then); false if no timer is set.
  bool advance_to_next_timer();
  // Runs and fires timers in order until every process has ended (true),
  // or no timer is left or `limit` of virtual time has passed (false): a
  // whole scenario, on virtual time.
  bool run_to_end(Duration limit = std::chrono::hours(1));
  // Virtual time: steady_now() and system_now() inside the simulation.
  SteadyTime now() const;
  SystemTime wall_now() const;
  // Virtual time passed since the start.
  Duration elapsed() const { return std::chrono::nanoseconds(now_ns_ - start_ns); }

  // --- expectations (expectations.hpp) ---
  // The oldest message to `to` not yet checked must be a T (from `from`,
  // if named); steps until there is one. Fails otherwise.
  template <class T>
  Expectation<T> expect();
  // As expect, but a message of another type, or none, is not a failure:
  // the result says whether it matched.
  template <class T>
  Expectation<T> allow();
  // Fails if an unchecked message of type T (from `from`) is queued for `to`.
  template <class T>
  Expectation<T> disallow();
  // Sends `msg` as if `from` had sent it (to expect it from there).
  template <class T>
  Injection<T> inject(T msg);
  // A process that only collects what it is sent, for the test to read.
  Probe probe();

  // --- the record and the mailboxes ---
  const std::deque<Delivery>& deliveries() const { return deliveries_; }
  // Forgets the record (long simulations; expectations then see only newer
  // messages).
  void forget_deliveries() {
    deliveries_.clear();
    latest_seq_.clear();
  }
  // A digest of every delivery so far (who, to whom, which type, in which
  // order): equal for two runs that took the same course.
  std::uint64_t trace_digest() const { return digest_; }
  // Messages queued for `pid` (user messages, Exit and Down), 0 if not alive.
  std::size_t mailbox_size(Pid pid) const;
  // The oldest queued message of type T for `pid`, or nullptr. Valid until
  // `pid` next runs.
  template <class T>
  const T* peek(Pid pid) const {
    const detail::MessageNode* n = find_queued(pid, detail::type_of<T>());
    return n ? &detail::payload<T>(const_cast<detail::MessageNode*>(n)) : nullptr;
  }

  // --- faults ---
  // `pid` crashes (exit reason `reason`) when a receive of its takes its
  // `nth` message (1: the next one it takes; counting from now), before it
  // handles it: a supervisor sees the crash and restarts it.
  void crash_at(Pid pid, std::size_t nth,
                ExitReason reason = ExitReason::error("injected crash (troupe::testing)"));

  // Throws ExpectationFailed: `what`, the seed and how to replay it.
  [[noreturn]] void fail(const std::string& what) const;

  // For the expectation templates: the oldest unchecked delivery to `to`,
  // stepping until there is one if `wait`; nullptr if none.
  Delivery* next_delivery(Pid to, bool wait);
  // Is d's message still queued (so its payload can be read)?
  bool still_queued(const Delivery& d) const;
  Delivery* record_of(const detail::MessageNode* node);

 private:
  class Hooks;
  friend class Hooks;
  static constexpr std::int64_t start_ns = 1'000'000'000'000;  // 1000 s: never near zero

  std::uint64_t next_random();
  void fire_due();
  const detail::MessageNode* find_queued(Pid pid, const detail::TypeTag* type) const;

  uv_loop_t loop_;
  std::uint64_t seed_;
  std::uint64_t rng_;
  std::int64_t now_ns_ = start_ns;
  SystemTime wall_start_;
  std::unique_ptr<Hooks> hooks_;
  std::unique_ptr<Runtime> rt_;
  std::deque<Delivery> deliveries_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t digest_ = 0xcbf29ce484222325ull;
  std::unordered_map<const detail::MessageNode*, std::uint64_t> latest_seq_;  // node -> seq
  struct Crash {
    std::size_t left;
    ExitReason reason;
  };
  std::unordered_map<std::uint64_t, Crash> crashes_;  // raw pid -> when
};

}  // namespace troupe::testing

#include "testing/expectations.hpp"
#include "testing/probe.hpp"
