#pragma once
// Directory: the cluster's membership and ownership records, behind one small
// interface so that the backend (Redis today: cluster/redis_directory.hpp;
// NATS or etcd later) can change without the node noticing.
//
// Membership. A node joins with a NodeInfo and a lease of `ttl`; join gives it
// a new incarnation, a number from a cluster-wide counter that only grows, so
// that a node restarted under the same id is told apart from its previous
// life. The node renews the lease well before ttl runs out; a lease that ran
// out (or that a later join under the same id replaced) is gone for good: the
// node must join again, as a new incarnation. A node is live while its lease
// is valid. The backend's clock decides when a lease runs out, so a node whose
// own wall clock jumps does not break leases; the node must still stop serving
// by itself when it could not renew before its own (monotonic) deadline.
//
// Ownership. A name (a session name, any bytes) is owned by at most one live
// incarnation. Every claim that wins increases the name's fence (a per-name
// counter that only grows, even across releases and expiries) and records the
// owner: node, incarnation, fence. An owner record whose incarnation's lease is
// gone names no owner: lookup says nobody owns the name and the next claim
// wins. The fence is what makes that safe: the state store rejects writes that
// carry a fence below the name's current one (docs/persist.md).
//
// Identifiers. A node id is 1 to 64 bytes of [A-Za-z0-9_.-]. A name is 1 to
// 512 bytes, any bytes (NUL included). Anything else fails with
// StoreErrc::invalid_argument, naming what is wrong.
//
// Errors (StoreError from persist/store.hpp):
//   unavailable       the backend cannot be reached now (naming its URL); a
//                     retry may succeed. An operation in flight when the
//                     connection dropped may or may not have been applied.
//   conflict          this node's lease is lost ("lease lost: ...").
//   invalid_argument  a bad name, node id, host or ttl.
//   corrupt           a stored owner or lease record that does not parse.
//   io_error          the backend refused the operation (an error reply).
//   closed            the directory was closed before the operation ran.
//
// Threading. A directory is bound to one uv_loop_t. Call its members only from
// the thread running that loop; every callback runs later on that same thread,
// never inside the call that issued the operation.
//
// Ordering. Operations take effect in the order they were issued (a backend
// documents any exception, e.g. RedisDirectory's retry after a script flush).
//
// Lifetime. Every issued operation's callback runs exactly once, with a value
// or a StoreError. Call join and wait for its success before renew, leave,
// claim or release (issuing those first, or a join while one is in flight, is
// a programming error and throws std::logic_error); nodes and lookup need no
// join. close(done) stops the directory: operations already issued complete
// (or fail with StoreErrc::closed), then done runs; destroy the directory
// only after that. Closing does not leave: the lease runs out by itself.
// Issuing operations after close throws std::logic_error.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/store.hpp"
#include "runtime/export.hpp"
#include "runtime/receive.hpp"

namespace troupe::cluster {

struct TROUPE_EXPORT NodeInfo {
  std::string id;
  std::uint64_t incarnation = 0;  // set by join; ignored in join's argument
  std::string host;               // where peers and clients reach it; printable, no spaces
  std::uint16_t ws_port = 0;
  std::uint16_t peer_port = 0;
  bool draining = false;  // takes no new names (set by renew)
};

struct TROUPE_EXPORT Owner {
  std::string node;
  std::uint64_t incarnation = 0;
  std::uint64_t fence = 0;
};

// mine: this node now owns the name with owner.fence; else owner is the live
// owner, which is another incarnation.
struct TROUPE_EXPORT ClaimResult {
  bool mine = false;
  Owner owner;
};

class TROUPE_EXPORT Directory {
 public:
  virtual ~Directory();

  // Registers this node with a new incarnation (yielded) and a lease of
  // `ttl` (at least 1 ms). A previous incarnation of the same id loses its
  // lease at once, and with it every name it owned.
  virtual void join(NodeInfo self, Duration ttl, StoreCallback<std::uint64_t> done) = 0;

  // Extends the lease to ttl from now if it is still this incarnation's, and
  // records `draining`; StoreErrc::conflict ("lease lost: ...") if it
  // expired, was left, or another incarnation holds the id.
  virtual void renew(bool draining, StoreCallback<void> done) = 0;

  // Drops this incarnation's lease at once (nothing if it is gone already):
  // the names it owned are free for the next claim.
  virtual void leave(StoreCallback<void> done) = 0;

  // The live nodes (valid lease), in no particular order.
  virtual void nodes(StoreCallback<std::vector<NodeInfo>> done) = 0;

  // Claims `name` for this node unless a live node (a valid lease of the
  // incarnation named in the owner record) other than this incarnation owns
  // it. When this node wins, the fence is the name's counter + 1 (always
  // increased, even when this incarnation owned the name already). Fails with
  // StoreErrc::conflict "lease lost: ..." if this node's own lease is not
  // valid.
  virtual void claim(std::string name, StoreCallback<ClaimResult> done) = 0;

  // The live owner of `name`; nullopt when the name is unowned, or its owner's
  // lease is gone.
  virtual void lookup(std::string name, StoreCallback<std::optional<Owner>> done) = 0;

  // Deletes the owner record if it still names this incarnation and `fence`;
  // yields whether it did. The fence counter stays, so later claims still get
  // bigger fences.
  virtual void release(std::string name, std::uint64_t fence, StoreCallback<bool> done) = 0;

  // Stops the directory (see Lifetime above). done runs on the loop thread.
  virtual void close(std::function<void()> done) = 0;
};

constexpr std::size_t max_node_id_size = 64;
constexpr std::size_t max_name_size = 512;

// nullopt if `id` is a valid node id; else the invalid_argument error.
TROUPE_EXPORT std::optional<StoreError> node_id_error(std::string_view id);
// nullopt if `name` can be claimed; else the invalid_argument error.
TROUPE_EXPORT std::optional<StoreError> name_error(std::string_view name);

}  // namespace troupe::cluster
