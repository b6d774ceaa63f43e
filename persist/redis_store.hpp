#pragma once
// RedisStore: a Store on a Redis server, through hiredis's async API on the
// store's own uv loop. Commands are pipelined: all those issued in one loop
// turn go out in one write.
//
// Layout and atomicity: detail/redis_scripts.hpp. Every write (put, del,
// batch, compare_and_put, compare_and_put_many) is one Lua script run, so
// it is one server-side step: two incarnations of an actor can never both
// win a compare-and-put. Scripts are loaded once per connection and run with
// EVALSHA, falling back to EVAL if the server answers NOSCRIPT (after a
// SCRIPT FLUSH; that retry may reorder the write after commands issued
// later).
//
// Connection. connect() starts connecting; its callback reports the first
// attempt (ok, or StoreErrc::unavailable naming the URL and the cause).
// Whatever that outcome, the store keeps reconnecting whenever the connection
// is down, for as long as it is open, waiting Backoff{.base = backoff_initial,
// .cap = backoff_max} (runtime/backoff.hpp: exponential, full jitter).
//   - connecting: operations wait for the attempt (bounded by
//     connect_timeout) and then run or fail with it;
//   - ready: operations are sent at once;
//   - down (between attempts): operations fail at once with
//     StoreErrc::unavailable naming the URL and the last cause; nothing is
//     queued silently.
// An operation in flight when the connection drops, or that gets no reply
// within command_timeout (the connection is then dropped and remade), fails
// with StoreErrc::unavailable saying it may or may not have been applied.
//
// Threading and lifetime as in persist/store.hpp.

#include <uv.h>

#include <chrono>
#include <deque>
#include <memory>

#include "persist/detail/deferred.hpp"
#include "persist/detail/timer.hpp"
#include "persist/redis_reply.hpp"
#include "persist/redis_url.hpp"
#include "persist/store.hpp"
#include "runtime/backoff.hpp"
#include "runtime/export.hpp"

struct redisAsyncContext;
struct redisReply;

namespace troupe {

struct TROUPE_EXPORT RedisStoreOptions {
  std::string url = "redis://127.0.0.1:6379/0";
  // Prepended to every Redis key, so that several stores (or applications)
  // can share a database.
  std::string key_prefix = "troupe:";
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect plus handshake
  std::chrono::milliseconds command_timeout{5000};
  // The reconnect backoff's base and cap (full jitter).
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
};

enum class RedisState { idle, connecting, ready, down, closed };
TROUPE_EXPORT const char* to_string(RedisState state);

class TROUPE_EXPORT RedisStore final : public Store {
 public:
  // Fails with StoreErrc::invalid_argument when options.url does not parse.
  static StoreResult<std::unique_ptr<RedisStore>> create(uv_loop_t* loop,
                                                         RedisStoreOptions options);
  ~RedisStore() override;

  // Starts connecting (see above). Call once, before any operation.
  void connect(StoreCallback<void> done);

  // Called on every change of connection state, with the cause when the
  // state is down. Lets an owner flush dirty state once Redis is back.
  void on_state_change(std::function<void(RedisState, const StoreError*)> listener);
  RedisState state() const { return state_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }

  void get(std::string key, StoreCallback<std::optional<Entry>> done) override;
  void put(std::string key, std::string value, StoreCallback<Revision> done) override;
  void del(std::string key, StoreCallback<bool> done) override;
  void list(std::string prefix, ListOptions options, StoreCallback<Page> done) override;
  void batch(std::vector<WriteOp> ops, StoreCallback<void> done) override;
  void compare_and_put(std::string key, std::string value, Revision revision,
                       StoreCallback<void> done) override;
  void compare_and_put_many(std::vector<CasWrite> writes,
                            StoreCallback<std::vector<CasOutcome>> done) override;
  void close(std::function<void()> done) override;

 private:
  struct Request;
  struct Op;
  using ReplyHandler = std::function<void(StoreResult<const redisReply*>)>;

  RedisStore(uv_loop_t* loop, RedisStoreOptions options, RedisEndpoint endpoint);

  void start_attempt();
  void on_connected(redisAsyncContext* ac, int status);
  void send_handshake();
  void become_ready();
  void connection_lost(redisAsyncContext* ac, std::string cause);
  // Drops the connection on purpose (timeout, failed handshake).
  void drop(std::string cause);
  void finish_close();
  void set_state(RedisState state, const StoreError* error = nullptr);
  void check_timeouts();

  void send(std::vector<std::string> args, ReplyHandler handler);
  void dispatch(Request* request);
  void issue(Request* request);
  // args: numkeys, keys, then the script's ARGV.
  void run_script(bool apply, std::vector<std::string> args, ReplyHandler handler);
  void apply(std::string mode, const std::vector<WriteOp>& ops, ReplyHandler handler);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  void handle_reply(Request* request, redisAsyncContext* ac, const redisReply* reply);

  void ensure_usable() const;
  template <class T>
  void reject(StoreCallback<T> done, StoreError error);
  StoreError unavailable_error() const;
  std::string vkey(std::string_view key) const {
    return options_.key_prefix + "v:" + std::string(key);
  }
  std::string rkey(std::string_view key) const {
    return options_.key_prefix + "r:" + std::string(key);
  }

  uv_loop_t* loop_;
  RedisStoreOptions options_;
  RedisEndpoint endpoint_;
  RedisState state_ = RedisState::idle;
  redisAsyncContext* ctx_ = nullptr;
  bool handshake_done_ = false;
  std::string apply_sha_, list_sha_;
  std::string last_cause_;
  std::string drop_cause_;  // why drop() is tearing the connection down
  BackoffCounter reconnects_;
  // Requests issued while an attempt is in flight.
  std::vector<Request*> waiting_;
  // Send times of requests in flight, oldest first (Redis replies in order).
  std::deque<std::chrono::steady_clock::time_point> in_flight_;
  StoreCallback<void> on_first_attempt_;
  std::function<void(RedisState, const StoreError*)> listener_;
  std::function<void()> on_closed_;
  bool closing_ = false;
  detail::Timer connect_timer_;
  detail::Timer reconnect_timer_;
  detail::Timer watchdog_;
  detail::Deferred deferred_;

 public:
  // ---- raw commands ---------------------------------------------------------
  // Sends one command (args[0] is its name; every argument is binary-safe)
  // on this store's connection, with the same contract as the operations
  // above: loop thread only, after connect() and before close(); done runs
  // exactly once, later, on the loop thread; while Redis is down, or when the
  // reply does not come within command_timeout, it fails with
  // StoreErrc::unavailable naming the URL. A Redis error reply ("ERR ...",
  // "NOSCRIPT ...") is not a StoreError: it arrives as a RedisReply of type
  // error, for the caller to interpret. Empty args fail with
  // StoreErrc::invalid_argument. Lets other parts (the cluster directory)
  // reuse this connection's lifecycle instead of keeping their own; they own
  // their keys, which need not live under key_prefix.
  void command(std::vector<std::string> args, StoreCallback<RedisReply> done);
};

}  // namespace troupe
