#pragma once
// RedisDirectory: the cluster Directory (cluster/directory.hpp) on a Redis
// server, over a RedisStore connection of its own (persist/redis_store.hpp:
// its connect, handshake, reconnect with backoff, command timeout and
// `unavailable` errors naming the URL apply here unchanged).
//
// Layout under the key prefix P (default "troupe:cluster:"), SEP the byte 0x1f:
//   P incarnation     the cluster-wide incarnation counter (INCR)
//   P nodes           a set of the ids that joined and were not yet seen dead
//   P lease:<id>      a node's lease, with a TTL (PX):
//                     "incarnation SEP host SEP ws_port SEP peer_port SEP draining(0|1)"
//   P owner:<name>    a name's owner record: "node SEP incarnation SEP fence"
//   P fence:<name>    a name's fence counter (a decimal, INCR; never deleted)
// Names appear only in key names, never inside a record, so any bytes are
// fine; node ids and hosts cannot hold SEP (cluster/directory.hpp). A record
// that does not parse fails the operation with StoreErrc::corrupt.
//
// Atomicity. Every operation is one run of one Lua script
// (cluster/detail/directory_script.hpp), so it is one server-side step: a
// claim reads its own lease, the owner record and the owner's lease, and
// writes the fence and the record, with nothing in between. Owner records of
// dead incarnations are not swept; the next claim of the name overwrites
// them, and lookup ignores them. Fence counters stay forever (one small key
// per name ever claimed) so that fences only grow.
//
// Scripts. On every (re)connection the directory sends SCRIPT LOAD before any
// other command of that connection (the pipeline keeps that order), and runs
// operations with EVALSHA of the script's SHA-1, computed locally. Should
// the server still answer NOSCRIPT (an operator's SCRIPT FLUSH mid-run), the
// operation is sent again as EVAL; that retry may reorder it after
// operations issued later.
//
// Time. Leases expire by Redis's own clock (SET ... PX ttl), never by this
// node's: a node whose wall clock jumps does not break leases, neither its
// own nor others'. Only durations cross the wire.
//
// Replication. Redis replicates asynchronously: a claim acknowledged by the
// primary can be lost if the primary dies before its replicas got it, and a
// replica promoted then hands out the same fence again, to another node. With
// wait_replicas = n > 0, every won claim is followed by WAIT n wait_timeout;
// fewer acknowledgements fail the claim with StoreErrc::unavailable ("claim
// not replicated"): the record may stand on the primary, so the node must not
// serve the name on it (claim again later, which raises the fence, or
// release it). That narrows the window, it does not close it (WAIT is not
// consensus: a failover may still promote a replica that missed the write).
// What is left is the state store's fence check: the new owner raises the
// name's fence there before it loads; a state store that refuses a raise to
// a token equal to the stored one catches a reissued fence at activation.
// With wait_replicas = 0 (the default, one Redis) no WAIT is sent.
//
// Threading, ordering and lifetime as in cluster/directory.hpp; connect()
// first, like RedisStore::connect.

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>

#include "cluster/directory.hpp"
#include "persist/detail/deferred.hpp"
#include "persist/redis_reply.hpp"
#include "persist/redis_store.hpp"
#include "runtime/export.hpp"

namespace troupe::cluster {

struct TROUPE_EXPORT RedisDirectoryOptions {
  std::string url = "redis://127.0.0.1:6379/0";
  std::string key_prefix = "troupe:cluster:";
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect plus handshake
  // A command without a reply for this long fails `unavailable` and the
  // connection is remade. Keep it well below the lease ttl.
  std::chrono::milliseconds command_timeout{5000};
  std::chrono::milliseconds backoff_initial{50};  // reconnect backoff (full jitter)
  std::chrono::milliseconds backoff_max{2000};
  // Replicas that must acknowledge a won claim (WAIT) before it is reported;
  // 0: none. wait_timeout must be below command_timeout.
  unsigned wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{500};
};

class TROUPE_EXPORT RedisDirectory final : public Directory {
 public:
  // Fails with StoreErrc::invalid_argument when the URL does not parse, the
  // key prefix is empty, or wait_timeout is not below command_timeout.
  static StoreResult<std::unique_ptr<RedisDirectory>> create(uv_loop_t* loop,
                                                             RedisDirectoryOptions options);
  ~RedisDirectory() override;

  // Starts connecting; done reports the first attempt (ok, or unavailable
  // naming the URL). Reconnects by itself whenever the connection is down.
  // Call once, before any operation.
  void connect(StoreCallback<void> done);
  // Every change of the connection's state (RedisStore::on_state_change).
  void on_state_change(std::function<void(RedisState, const StoreError*)> listener);
  RedisState state() const { return redis_->state(); }
  const RedisEndpoint& endpoint() const { return redis_->endpoint(); }
  // This node as last joined (incarnation set), or nullopt before join.
  const std::optional<NodeInfo>& self() const { return self_; }

  void join(NodeInfo self, Duration ttl, StoreCallback<std::uint64_t> done) override;
  void renew(bool draining, StoreCallback<void> done) override;
  void leave(StoreCallback<void> done) override;
  void nodes(StoreCallback<std::vector<NodeInfo>> done) override;
  void claim(std::string name, StoreCallback<ClaimResult> done) override;
  void lookup(std::string name, StoreCallback<std::optional<Owner>> done) override;
  void release(std::string name, std::uint64_t fence, StoreCallback<bool> done) override;
  void close(std::function<void()> done) override;

 private:
  RedisDirectory(uv_loop_t* loop, RedisDirectoryOptions options, std::unique_ptr<RedisStore> redis);

  // One run of the directory script; args: numkeys, keys, then ARGV.
  void run(std::string what, std::vector<std::string> args, StoreCallback<RedisReply> done);
  // A script run's reply to done: an error reply becomes io_error.
  void script_done(const std::string& what, StoreResult<RedisReply> r,
                   const StoreCallback<RedisReply>& done) const;
  void wait_replicated(std::string what, ClaimResult claimed, StoreCallback<ClaimResult> done);
  void ensure_open(const char* op) const;
  const NodeInfo& joined(const char* op) const;
  template <class T>
  void reject(StoreCallback<T> done, StoreError error);
  StoreError unexpected_reply(const std::string& what) const;
  StoreError lease_lost(const std::string& what, const std::string& id, std::uint64_t incarnation,
                        const std::string& held) const;
  std::string key(std::string_view kind, std::string_view id) const {
    return options_.key_prefix + std::string(kind) + std::string(id);
  }

  RedisDirectoryOptions options_;
  std::unique_ptr<RedisStore> redis_;
  std::optional<NodeInfo> self_;
  std::uint64_t ttl_ms_ = 0;
  bool joining_ = false;
  bool closing_ = false;
  std::function<void(RedisState, const StoreError*)> listener_;
  troupe::detail::Deferred deferred_;
};

}  // namespace troupe::cluster
