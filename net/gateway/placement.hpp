#pragma once
// SessionPlacement: where a gateway's sessions live when the gateway is one
// node of a cluster (cluster/node.hpp implements it; docs/cluster.md). With
// none (GatewayOptions::placement null) every session lives here, as on a
// single node.
//
// What the gateway asks of it, per session name ("rooms/lobby"):
// - locate: does the name live here (or nowhere yet), on another node, or
//   must the caller wait (the owner's node is unreachable but its lease has
//   not run out; this node is draining; the directory does not answer)?
// - claim: the one starter of the name here takes it before starting it,
//   and gets the fence its incarnation writes with (persist/store.hpp,
//   StoreFence); the fence is raised in the store before the claim returns,
//   so an incarnation elsewhere that still believes it owns the name can no
//   longer write.
// - open_proxy: for the connections of one loop whose session lives on
//   another node, a process that stands in for the session: it takes
//   SessionConnect, SessionFrame and SessionClose like a session and
//   forwards them, and exits when that owner is lost. Before it exits it
//   sets each connection's FrameProgress: `taken` stays at the last frame
//   it sent while the owner may have taken it (the owner died: those
//   connections are in doubt), or comes back to `handled` when the owner
//   said it took nothing more (the name moved in order).
// - remote connections: connections forwarded here from another node have
//   ids with remote_connection_bit set; the gateway runs them through the
//   same relay as its own, and closes them through close_remote.
//
// Threads: locate, claim and open_proxy are called from gateway processes
// (any scheduler); ended from a session's process; close_remote from a
// loop thread; metrics from any thread.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "net/ws/types.hpp"
#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/pid.hpp"
#include "runtime/process.hpp"
#include "runtime/task.hpp"

namespace troupe {

// Set in the ids of connections whose socket is on another node.
inline constexpr std::uint64_t remote_connection_bit = std::uint64_t{1} << 63;
inline bool is_remote(ConnectionId id) {
  return (id.value & remote_connection_bit) != 0;
}

// How the error of Gateway::find_session begins when the name was claimed
// by another node of the cluster meanwhile.
inline constexpr std::string_view moved_reason = "session lives on another node";

class TROUPE_EXPORT SessionPlacement {
 public:
  struct Location {
    enum class Kind : std::uint8_t { here, elsewhere, wait, unavailable };
    Kind kind = Kind::here;
    std::string node;         // elsewhere: the owner's node id
    std::uint64_t fence = 0;  // elsewhere: the owner's fence as last seen
    std::string error;        // wait, unavailable: why (for a log and a close reason)
  };
  struct Claim {
    Location where;                   // here: claimed; else where it is, or why not
    std::optional<StoreFence> fence;  // here: what the incarnation writes with
  };

  virtual ~SessionPlacement() = default;

  // Where `name` is served now: `here` also when nobody owns it and this
  // node may take it. The gateway asks again after `wait`, up to the
  // route's restart_wait.
  virtual Task<Location> locate(Process& self, const std::string& name) = 0;
  // Claims `name` for an incarnation about to start here.
  virtual Task<Claim> claim(Process& self, const std::string& name) = 0;
  // The incarnation that claimed with `fence` ended; `clean`: in order (an
  // idle stop), so the name may be released.
  virtual void ended(const std::string& name, std::uint64_t fence, bool clean) = 0;
  // A process on `scheduler` standing in for the session of `name` at
  // `where` (elsewhere), for the connections of one loop.
  virtual Pid open_proxy(Runtime& rt, const std::string& name, const Location& where,
                         int scheduler) = 0;
  // Closes a remote connection (its socket is on another node).
  virtual void close_remote(ConnectionId conn, std::uint16_t code, std::string_view reason) = 0;
  // Prometheus text for /metrics.
  virtual void write_metrics(std::ostream& out) const = 0;
};

}  // namespace troupe
