#pragma once
// Why a process ended, following Erlang's exit reasons.

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/export.hpp"

namespace troupe {

class ExitReason;
TROUPE_EXPORT std::string to_string(const ExitReason& reason);

class TROUPE_EXPORT ExitReason {
 public:
  enum class Kind : std::uint8_t {
    normal,    // the body returned, or exit(normal)
    shutdown,  // asked to stop by a supervisor or the runtime; may carry a detail
    killed,    // ended by the untrappable `kill` signal
    kill,      // the untrappable signal itself (only as an exit(pid, kill) argument)
    noproc,    // the process did not exist (monitor/link/call of a dead pid)
    error,     // a failure: an uncaught exception or exit(error(...))
  };

  ExitReason() = default;
  explicit ExitReason(Kind kind) : kind_(kind) {}
  ExitReason(Kind kind, std::string detail);

  static ExitReason error(std::string what) { return {Kind::error, std::move(what)}; }
  // Erlang's {shutdown, Term}: a normal exit for supervisors, with a detail.
  static ExitReason shutdown_with(std::string detail) {
    return {Kind::shutdown, std::move(detail)};
  }

  Kind kind() const { return kind_; }
  const std::string& detail() const;
  // normal, shutdown and {shutdown, _}: exits a supervisor does not treat as a crash.
  bool is_normal_exit() const { return kind_ == Kind::normal || kind_ == Kind::shutdown; }

  friend TROUPE_EXPORT bool operator==(const ExitReason& a, const ExitReason& b);

 private:
  Kind kind_ = Kind::normal;
  std::shared_ptr<const std::string> detail_;  // shared: reasons are copied to every link
};

// "normal", "shutdown", ...; with a detail "{error, what}".
TROUPE_EXPORT const char* to_string(ExitReason::Kind kind);

inline const ExitReason normal{ExitReason::Kind::normal};
inline const ExitReason shutdown{ExitReason::Kind::shutdown};
inline const ExitReason killed{ExitReason::Kind::killed};
inline const ExitReason kill{ExitReason::Kind::kill};
inline const ExitReason noproc{ExitReason::Kind::noproc};

}  // namespace troupe
