#pragma once
// The loop of a session's process (session.hpp), on the behaviour engine
// (runtime/behaviour.hpp): the session's connection events, its alarm and
// its idle stop are clauses of the same receive as its typed application
// messages. Instantiated per session type by Gateway::route; the glue
// around it (restart delay, crash record, retention) is SessionRunner
// (session_runner.cpp). Internal to the gateway.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "net/gateway/detail/alarm_book.hpp"
#include "net/gateway/session.hpp"
#include "runtime/behaviour.hpp"
#include "runtime/clock.hpp"
#include "runtime/export.hpp"

namespace troupe {
namespace detail {

// How far a session got with a connection's frames (session.hpp). The relay
// hands the frames after `taken` to the next incarnation if the session
// crashes (the one it was handling when it crashed is not handed again: it
// may be what crashed it).
using Progress = std::shared_ptr<FrameProgress>;

// Frames received on one loop and not yet taken up by their sessions (the
// sessions' mailbox depth in frames, for /metrics): the relay counts a frame
// in, the session counts it out as it takes it up; a frame that no session
// will take (its connection closed and its session died) the relay counts out.
using PendingFrames = std::atomic<std::int64_t>;

// From the relay to a session.
struct TROUPE_EXPORT SessionConnect {
  ConnectionId conn;
  HttpRequest request;
  bool resumed;
  std::optional<std::string> interrupted;  // ConnectInfo::interrupted
  Progress progress;
  PendingFrames* pending;
  // A remote connection's (net/gateway/placement.hpp): where its frames go.
  std::shared_ptr<ConnectionSink> remote;
};
struct TROUPE_EXPORT SessionFrame {
  ConnectionId conn;
  std::shared_ptr<const std::string> data;  // shared with the redelivery buffer
  MessageKind kind;
  std::uint64_t seq;
};
struct TROUPE_EXPORT SessionClose {
  ConnectionId conn;
  std::uint16_t code;
  std::string reason;
};

// What the loop needs from its route, without knowing the route's type
// (implemented in session_runner.cpp).
class SessionHost {
 public:
  using AlarmTime = SessionBase::AlarmTime;
  Pid parent;  // the route's supervisor: its exit signal is a shutdown
  Duration idle_timeout{};
  ws::Server* server = nullptr;
  ConnectionSink* sink = nullptr;  // instead of `server`: a SessionHarness's
  Persistence* persistence = nullptr;

  // The session's alarm as the route's book has it.
  virtual std::optional<AlarmTime> stored_alarm() const = 0;
  // Clears the alarm that fired (unless another was set meanwhile).
  virtual Task<> clear_fired_alarm(Process& self, std::optional<AlarmTime> fired) = 0;
  // The session stopped in order (idle, shutdown): not a crash.
  virtual void stopped_cleanly() = 0;

 protected:
  ~SessionHost() = default;
};

// The session's loop for its type S.
using ServeSession = Task<> (*)(Process&, SessionHost&, SessionBase&);

// The loop's access to the private parts of sessions and connections.
struct SessionAccess {
  static void bind(SessionBase& s, Process& self, std::string name, std::string full_name,
                   AlarmBook* alarms) {
    s.self_ = &self;
    s.name_ = std::move(name);
    s.full_name_ = std::move(full_name);
    s.alarms_ = alarms;
  }
  static std::optional<SessionBase::AlarmTime>& alarm(SessionBase& s) { return s.alarm_; }
  static auto& connections(SessionBase& s) { return s.connections_; }
  static Task<> load_state(SessionBase& s, Process& self, Persistence* p) {
    return s.load_state(self, p);
  }
  static Task<> end_state(SessionBase& s, Process& self, const ExitReason& reason) {
    return s.end_state(self, reason);
  }
  static Connection& add(SessionBase& s, SessionConnect& c, const SessionHost& host) {
    auto& slot = s.connections_[c.conn.value];
    slot = std::make_unique<Connection>(c.conn, host.server, c.remote ? c.remote.get() : host.sink);
    slot->remote_ = std::move(c.remote);
    slot->progress_ = std::move(c.progress);
    slot->pending_ = c.pending;
    return *slot;
  }
  // The frame's connection, with the frame counted as taken up; null if it
  // is gone.
  static Connection* take(SessionBase& s, const SessionFrame& f) {
    auto it = s.connections_.find(f.conn.value);
    if (it == s.connections_.end()) return nullptr;
    Connection& c = *it->second;
    c.progress_->taken.store(f.seq, std::memory_order_release);
    c.pending_->fetch_sub(1, std::memory_order_relaxed);
    return &c;
  }
  static void handled(Connection& c, std::uint64_t seq) {
    c.progress_->handled.store(seq, std::memory_order_release);
    if (c.remote_) [[unlikely]]
      c.remote_->handled(c.id_, seq);
  }
  static void set_fence(SessionBase& s, std::optional<StoreFence> fence) {
    s.fence_ = std::move(fence);
  }
};

// Calls `s.on_message`; the loop awaits what it returns if it is a Task.
// The hot path: no coroutine frame of the engine's own.
template <class S>
auto deliver_frame(S& s, Connection& c, const SessionFrame& f) {
  return s.on_message(c, std::string_view(*f.data), f.kind);
}

// An orderly stop: on_stop, then the persistent state is flushed.
template <class S>
TROUPE_HEADER_COROUTINE Task<> session_stop(S& s, Process& self, SessionHost& host,
                                            ExitReason reason) {
  co_await run_callback([&] { return s.on_stop(); });
  co_await SessionAccess::end_state(s, self, reason);
  host.stopped_cleanly();
}

// Runs the session until it stops in order (returns, or exits with the
// shutdown's reason); a crash escapes as an exception.
template <class S>
TROUPE_HEADER_COROUTINE Task<> serve_session(Process& self, SessionHost& host, SessionBase& base) {
  S& s = static_cast<S&>(base);
  auto& alarm_slot = SessionAccess::alarm(base);
  // The book changes under a running session only by its own set_alarm and
  // cancel_alarm, or by the keeper's load, which tells it (AlarmsChanged).
  alarm_slot = host.stored_alarm();
  co_await SessionAccess::load_state(base, self, host.persistence);
  co_await run_callback([&] { return s.on_start(); });
  BehaviourLoop<S> loop(self, s);
  for (;;) {
    const auto alarm = alarm_slot;
    const auto until_alarm = alarm ? *alarm - system_now() : Duration::max();
    if (alarm && until_alarm <= Duration::zero()) {
      co_await run_callback([&] { return s.on_alarm(); });
      // Cleared only now, so that a crash in on_alarm runs it again; an
      // alarm that on_alarm set stays.
      if (alarm_slot == alarm) alarm_slot.reset();
      co_await host.clear_fired_alarm(self, alarm);
      continue;
    }
    // Idle only counts while nobody is connected; an alarm may come first.
    Duration wait = infinite_wait;
    bool idle_wait = SessionAccess::connections(base).empty();
    if (idle_wait) wait = host.idle_timeout;
    if (until_alarm < wait) {
      wait = until_alarm;
      idle_wait = false;
    }
    // The session's own events are kept by their clauses and handled after
    // the receive; the typed messages' work comes back as `pending`.
    std::optional<SessionConnect> connect;
    std::optional<SessionFrame> frame;
    std::optional<SessionClose> close;
    std::optional<ExitReason> stop;
    bool timed_out = false;
    Pending pending = co_await loop.receive(
        [&](SessionConnect& c) -> Pending {
          connect = std::move(c);
          return std::nullopt;
        },
        [&](SessionFrame& f) -> Pending {
          frame = std::move(f);
          return std::nullopt;
        },
        [&](SessionClose& c) -> Pending {
          close = std::move(c);
          return std::nullopt;
        },
        [&](const AlarmsChanged&) -> Pending {
          alarm_slot = host.stored_alarm();
          return std::nullopt;
        },
        [&](Exit& e) -> Pending {
          if (e.from == host.parent || e.reason != normal) stop = std::move(e.reason);
          return std::nullopt;
        },
        after(wait, [&]() -> Pending {
          timed_out = true;
          return std::nullopt;
        }));
    if (pending) {
      co_await *pending;
    } else if (frame) {
      // The connection outlives the call: only a SessionClose, taken by
      // this loop, removes it.
      if (Connection* c = SessionAccess::take(base, *frame)) {
        if constexpr (is_task<decltype(deliver_frame(s, *c, *frame))>::value)
          co_await deliver_frame(s, *c, *frame);
        else
          deliver_frame(s, *c, *frame);
        SessionAccess::handled(*c, frame->seq);
      }
    } else if (connect) {
      Connection& conn = SessionAccess::add(base, *connect, host);
      ConnectInfo info{std::move(connect->request), connect->resumed,
                       std::move(connect->interrupted)};
      co_await run_callback([&] { return s.on_connect(conn, info); });
    } else if (close) {
      auto& conns = SessionAccess::connections(base);
      auto it = conns.find(close->conn.value);
      if (it != conns.end()) {
        std::unique_ptr<Connection> gone = std::move(it->second);
        conns.erase(it);
        co_await run_callback(
            [&] { return s.on_close(*gone, close->code, std::string_view(close->reason)); });
      }
    }
    if (stop) {
      // A shutdown by the route's supervisor runs on_stop; an abnormal exit
      // signal from any other linked process ends the session at once.
      if (!stop->is_normal_exit()) self.exit(std::move(*stop));
      co_await session_stop(s, self, host, *stop);
      self.exit(std::move(*stop));
    } else if (timed_out && idle_wait && SessionAccess::connections(base).empty()) {
      // Nobody connected and nothing sent for idle_timeout: stop until the
      // next connection.
      co_await session_stop(s, self, host, normal);
      co_return;
    }
  }
}

}  // namespace detail
}  // namespace troupe
