#pragma once
// Messages the runtime itself puts in a process's mailbox, and the envelope
// of a call. They travel in the system lane: never bounded, never dropped.

#include "runtime/exit_reason.hpp"
#include "runtime/export.hpp"
#include "runtime/pid.hpp"

namespace troupe {

// An exit signal from `from`, delivered as a message because the receiver
// traps exits (Process::trap_exit). Erlang's {'EXIT', From, Reason}.
struct TROUPE_EXPORT Exit {
  Pid from;
  ExitReason reason;
};

// The monitored process `pid` ended with `reason` (noproc: it was not alive
// when the monitor was set). Erlang's {'DOWN', Ref, process, Pid, Reason}.
struct TROUPE_EXPORT Down {
  Ref ref;
  Pid pid;
  ExitReason reason;
};

// Who is waiting for the answer to a call; pass it to Process::reply.
struct TROUPE_EXPORT ReplyTo {
  Pid from;
  Ref ref;
};

// A call as the callee receives it: the request value and whom to answer.
// Receive it as `Request<T>&` and answer with `self.reply(req, value)`.
template <class T>
struct Request {
  T value;
  ReplyTo reply_to;
};

}  // namespace troupe
