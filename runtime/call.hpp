#pragma once
// Result of Process::call.

#include <string>

#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"
#include "runtime/result.hpp"

namespace troupe {

struct TROUPE_EXPORT CallError {
  enum class Kind {
    timeout,       // no reply within the timeout; a late reply is discarded
    noproc,        // the callee was not alive (or no process has that name)
    exit,          // the callee exited before replying; `reason` says why
    mailbox_full,  // the callee's bounded mailbox rejected the request
    bad_reply,     // the callee replied with another type than the caller expects
  };
  Kind kind = Kind::timeout;
  ExitReason reason;    // for exit
  std::string message;  // for bad_reply: the type it got
};

// "timeout", "exit: <reason>", "bad_reply: <message>", ...
TROUPE_EXPORT std::string to_string(const CallError& e);
TROUPE_EXPORT const char* to_string(CallError::Kind kind);

template <class R>
using CallResult = Result<R, CallError>;

}  // namespace troupe
