#pragma once
// Supervision trees as plain data, with OTP's vocabulary:
//
//   troupe::SupervisorSpec spec{
//       .strategy = troupe::one_for_one,
//       .intensity = 3, .period = 5s,
//       .children = {
//           {.id = "store", .start = troupe::server_child<Store>(), .restart = troupe::permanent},
//           {.id = "rooms", .start = troupe::dynamic_supervisor({.max_children = 100'000}),
//            .type = troupe::supervisor, .shutdown = troupe::infinity},
//       }};
//
// Specs are values: copy, compare (==) and print (<<) them. A child's start
// compares and prints as its label, i.e. what it starts. Plain values, so
// any thread may build and read them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backoff.hpp"
#include "runtime/export.hpp"
#include "runtime/server.hpp"

namespace troupe {

using namespace std::chrono_literals;

// Which children a supervisor restarts when one of them must be restarted.
enum class Strategy : std::uint8_t {
  one_for_one,   // only that child
  one_for_all,   // all children: the others are stopped (reverse order), then all start in order
  rest_for_one,  // that child and the ones started after it
};
inline constexpr Strategy one_for_one = Strategy::one_for_one;
inline constexpr Strategy one_for_all = Strategy::one_for_all;
inline constexpr Strategy rest_for_one = Strategy::rest_for_one;

// When a child is restarted after it ends.
enum class Restart : std::uint8_t {
  permanent,  // always
  transient,  // only after an abnormal exit (not normal, shutdown or {shutdown, _})
  temporary,  // never; the child is forgotten when it ends
};
inline constexpr Restart permanent = Restart::permanent;
inline constexpr Restart transient = Restart::transient;
inline constexpr Restart temporary = Restart::temporary;

enum class ChildType : std::uint8_t { worker, supervisor };
inline constexpr ChildType worker = ChildType::worker;
inline constexpr ChildType supervisor = ChildType::supervisor;

// How a child is stopped: brutal_kill (untrappable kill), a timeout (exit
// signal shutdown, then kill if it has not ended after the timeout) or
// infinity (shutdown, then wait as long as it takes: for supervisors). The
// default is OTP's: 5 s for workers, infinity for supervisors.
struct TROUPE_EXPORT Shutdown {
  enum class Kind : std::uint8_t { by_type, brutal_kill, timeout, infinity };
  Kind kind = Kind::by_type;
  Duration timeout{};

  constexpr Shutdown() = default;
  constexpr Shutdown(Kind k) : kind(k) {}
  template <class Rep, class Period>  // `.shutdown = 2s`
  constexpr Shutdown(std::chrono::duration<Rep, Period> t)
      : kind(Kind::timeout), timeout(std::chrono::duration_cast<Duration>(t)) {}
  friend bool operator==(const Shutdown&, const Shutdown&) = default;
};
inline constexpr Shutdown brutal_kill{Shutdown::Kind::brutal_kill};
inline constexpr Shutdown infinity{Shutdown::Kind::infinity};
inline constexpr Duration default_worker_shutdown = 5s;

// OTP's auto_shutdown: whether significant children ending on their own
// (without being restarted) shut their supervisor down.
enum class AutoShutdown : std::uint8_t { never, any_significant, all_significant };
inline constexpr AutoShutdown never = AutoShutdown::never;
inline constexpr AutoShutdown any_significant = AutoShutdown::any_significant;
inline constexpr AutoShutdown all_significant = AutoShutdown::all_significant;

// How to start a child: a coroutine run by the supervisor that starts the
// child linked to it and returns its Pid once it is initialised (or why not;
// a null Pid is OTP's `ignore`). `name` is the child spec's registered name
// ("" if none), valid until the task completes. Build one with
// process_child, server_child, supervisor_child or dynamic_supervisor
// (supervisor.hpp), or from any callable with that signature.
using StartFunction =
    std::function<Task<StartResult>(Process& supervisor, const std::string& name)>;

struct TROUPE_EXPORT ChildStart {
  std::string label;  // what it starts; how the start prints and compares
  std::shared_ptr<const StartFunction> fn;

  ChildStart() = default;
  ChildStart(std::string label, StartFunction f)
      : label(std::move(label)), fn(std::make_shared<const StartFunction>(std::move(f))) {}
  template <class F>
  requires std::is_constructible_v<StartFunction, F> &&
      (!std::is_same_v<std::decay_t<F>, ChildStart>)ChildStart(F f)
      : ChildStart("custom", StartFunction(std::move(f))) {}

  friend bool operator==(const ChildStart& a, const ChildStart& b) { return a.label == b.label; }
};

struct TROUPE_EXPORT ChildSpec {
  std::string id;  // unique among a static supervisor's children
  ChildStart start;
  Restart restart = permanent;
  ChildType type = worker;
  Shutdown shutdown = {};
  // With auto_shutdown: this child ending on its own (transient: normally;
  // temporary: any way) may shut the supervisor down. Not for permanent ones.
  bool significant = false;
  // Registered for the child (by the child itself, before its init), so it
  // is found again under the same name after every restart.
  std::string name;
  // Beyond OTP: wait before restarting this child (see runtime/backoff.hpp).
  Backoff backoff = {};

  friend bool operator==(const ChildSpec&, const ChildSpec&) = default;
};

// A static supervisor: children start in order and stop in reverse order.
// More than `intensity` restarts within `period` (a sliding window on the
// monotonic clock) and the supervisor stops its children and exits, with
// reason {shutdown, reached_max_restart_intensity}, escalating to its parent.
struct TROUPE_EXPORT SupervisorSpec {
  Strategy strategy = one_for_one;
  int intensity = 1;  // OTP's defaults
  Duration period = 5s;
  std::vector<ChildSpec> children;
  AutoShutdown auto_shutdown = never;

  friend bool operator==(const SupervisorSpec&, const SupervisorSpec&) = default;
};

inline constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

// A dynamic supervisor (Elixir's DynamicSupervisor, OTP's simple_one_for_one
// made general): no children at start; start_child adds any child spec,
// children are addressed by Pid, restarted one_for_one, and stopped all at
// once (in parallel) when the supervisor stops.
struct TROUPE_EXPORT DynamicSupervisorSpec {
  int intensity = 3;
  Duration period = 5s;
  std::size_t max_children = unlimited;

  friend bool operator==(const DynamicSupervisorSpec&, const DynamicSupervisorSpec&) = default;
};

// The effective shutdown of a child (resolves the by-type default).
TROUPE_EXPORT Shutdown effective_shutdown(const ChildSpec& child);

// Why a spec cannot be started: "" if it is valid. Checks unique non-empty
// ids, intensity >= 0, period > 0, and OTP's rules for significant children.
TROUPE_EXPORT std::string validate(const SupervisorSpec& spec);

TROUPE_EXPORT const char* to_string(Strategy s);
TROUPE_EXPORT const char* to_string(Restart r);
TROUPE_EXPORT const char* to_string(ChildType t);
TROUPE_EXPORT const char* to_string(AutoShutdown a);
TROUPE_EXPORT std::string to_string(const Shutdown& s);
TROUPE_EXPORT std::string to_string(const ChildSpec& c);
TROUPE_EXPORT std::string to_string(const SupervisorSpec& s);
TROUPE_EXPORT std::string to_string(const DynamicSupervisorSpec& s);
TROUPE_EXPORT std::ostream& operator<<(std::ostream& os, const ChildSpec& c);
TROUPE_EXPORT std::ostream& operator<<(std::ostream& os, const SupervisorSpec& s);
TROUPE_EXPORT std::ostream& operator<<(std::ostream& os, const DynamicSupervisorSpec& s);

}  // namespace troupe
