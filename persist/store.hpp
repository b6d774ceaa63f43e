#pragma once
// Store: the one asynchronous key-value interface behind actor snapshots and
// per-actor storage. Implementations: MemoryStore (unit tests of logic),
// FileStore (embedded default), RedisStore.
//
// Data model. A key is a non-empty byte string; it maps to a value (bytes)
// and a revision, a counter that every committed write of that key increases
// by one. An absent key has revision 0; del makes a key absent again.
// Compare-and-put writes revision r only if the stored revision is r - 1, so
// of two writers that both read revision r - 1, exactly one can win; that is
// how a stale incarnation of an actor is fenced off.
//
// Fences. A fence key holds a fencing token: the decimal text of a u64
// (absent: 0). A batch that carries WriteOp::fence(key, token) applies only
// if the stored token is <= token, and then raises the key to token (written
// only when it was lower, so the key's revision moves only when the fence
// rises). A batch whose fence finds a higher token applies nothing and fails
// with StoreErrc::fenced. A cluster gives every claim of a name a growing
// token; the new owner raises the name's fence with a batch of that one op
// before it loads the state, and every write of the name carries its fence,
// so an old owner that woke up late (a zombie) can no longer write, even
// before the new owner has written anything.
//
// Threading. A store is bound to one uv_loop_t. Call its members only from the
// thread running that loop; every callback runs later on that same thread,
// never inside the call that issued the operation (so a caller may issue an
// operation while holding state its callback will touch).
//
// Ordering. Operations on the same key take effect in the order they were
// issued; operations on different keys may complete in any order.
//
// Lifetime. Every issued operation's callback runs exactly once, with a value
// or a StoreError. close(done) stops the store: operations already issued
// complete (or fail with StoreErrc::closed), then done runs; destroy the store
// only after that. Issuing operations after close is a programming error and
// throws std::logic_error.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/export.hpp"
#include "runtime/result.hpp"

namespace troupe {

enum class StoreErrc {
  invalid_argument,  // the request can never succeed as given (empty key, key too long)
  conflict,          // a compare-and-put found another revision
  unavailable,       // the backend cannot be reached now; a retry may succeed
  io_error,          // the backend failed the operation (disk error, Redis error reply)
  corrupt,           // stored data could not be read back (damaged file)
  closed,            // the store was closed before the operation ran
  fenced,            // a batch's fence found a higher token: a newer owner holds the name
};

TROUPE_EXPORT const char* to_string(StoreErrc code);

struct TROUPE_EXPORT StoreError {
  StoreErrc code = StoreErrc::io_error;
  // Names the key or the backend's URL/path and the cause, ready for a log or
  // an exit reason.
  std::string message;
};
// "<code>: <message>".
TROUPE_EXPORT std::string to_string(const StoreError& error);

template <class T>
using StoreResult = Result<T, StoreError>;

template <class T>
using StoreCallback = std::function<void(StoreResult<T>)>;

using Revision = std::uint64_t;

struct TROUPE_EXPORT Entry {
  std::string value;
  Revision revision = 0;
};

struct TROUPE_EXPORT Item {
  std::string key;
  std::string value;
  Revision revision = 0;
};

struct TROUPE_EXPORT ListOptions {
  // The next_cursor of the previous page; empty for the first page.
  std::string cursor;
  // Items per page, at least 1.
  std::size_t limit = 100;
};

// Keys in ascending byte order, starting after the cursor.
struct TROUPE_EXPORT Page {
  std::vector<Item> items;
  // Empty when this is the last page; otherwise pass it as ListOptions::cursor.
  std::string next_cursor;
};

// A fencing token and the key that holds it (see Fences above).
struct TROUPE_EXPORT StoreFence {
  std::string key;
  std::uint64_t token = 0;
};

// One op of an atomic batch.
struct TROUPE_EXPORT WriteOp {
  enum class Kind { put, del, fence };
  Kind kind = Kind::put;
  std::string key;
  std::string value;  // put only
  // put only: when set, the put is conditional like compare_and_put (the
  // stored revision must be *revision - 1) and writes that revision.
  std::optional<Revision> revision;
  std::uint64_t token = 0;  // fence only

  static WriteOp put(std::string key, std::string value) {
    return {Kind::put, std::move(key), std::move(value), std::nullopt, 0};
  }
  static WriteOp put_at(std::string key, std::string value, Revision revision) {
    return {Kind::put, std::move(key), std::move(value), revision, 0};
  }
  static WriteOp del(std::string key) { return {Kind::del, std::move(key), {}, std::nullopt, 0}; }
  // The batch applies only if key's stored token is <= token (see Fences
  // above). A fence key may appear in no other op of the same batch.
  static WriteOp fence(std::string key, std::uint64_t token) {
    return {Kind::fence, std::move(key), {}, std::nullopt, token};
  }
  static WriteOp fence(StoreFence f) { return fence(std::move(f.key), f.token); }
};

// One independent write of compare_and_put_many.
struct TROUPE_EXPORT CasWrite {
  std::string key;
  std::string value;
  Revision revision = 1;  // the revision to write; the stored one must be revision - 1
};

// What compare_and_put_many did with one CasWrite.
struct TROUPE_EXPORT CasOutcome {
  bool committed = false;
  // The key's revision after the step: the written one if committed, else the
  // stored one that made the write conflict.
  Revision revision = 0;
};

class TROUPE_EXPORT Store {
 public:
  virtual ~Store() = default;

  // The value and revision of key, or nullopt when absent.
  virtual void get(std::string key, StoreCallback<std::optional<Entry>> done) = 0;

  // Writes key unconditionally; yields the new revision (stored + 1).
  virtual void put(std::string key, std::string value, StoreCallback<Revision> done) = 0;

  // Removes key; yields whether it existed.
  virtual void del(std::string key, StoreCallback<bool> done) = 0;

  // One page of the keys starting with prefix, in ascending byte order, with
  // their values. Writes that complete while a listing is paged through may
  // or may not appear in it.
  virtual void list(std::string prefix, ListOptions options, StoreCallback<Page> done) = 0;

  // Applies every op or none. Fails with StoreErrc::conflict, naming the
  // keys, when any conditional put's revision does not follow the stored one;
  // with StoreErrc::fenced, naming the key and both tokens, when a fence op
  // finds a higher token (fenced wins over conflict: such a writer must stop,
  // retrying cannot help); with StoreErrc::corrupt when a fence key holds
  // something that is not a decimal u64; with StoreErrc::invalid_argument
  // when a fence key appears in another op of the batch.
  virtual void batch(std::vector<WriteOp> ops, StoreCallback<void> done) = 0;

  // Writes key at revision only if the stored revision is revision - 1 (0:
  // absent); fails with StoreErrc::conflict naming the key and both revisions
  // otherwise. revision must be at least 1.
  virtual void compare_and_put(std::string key, std::string value, Revision revision,
                               StoreCallback<void> done) = 0;

  // Many independent compare_and_puts checked and written in one step (one
  // server-side script on Redis), each succeeding or conflicting on its own;
  // yields one CasOutcome per write, in order. The whole call fails only when
  // the step itself could not run (store unavailable, I/O error). Keys must be
  // distinct.
  virtual void compare_and_put_many(std::vector<CasWrite> writes,
                                    StoreCallback<std::vector<CasOutcome>> done) = 0;

  // Stops the store (see Lifetime above). done runs on the loop thread.
  virtual void close(std::function<void()> done) = 0;

  // nullopt if `key` can be stored here; else the invalid_argument error
  // that every operation on it fails with (an empty key; a key past the
  // backend's limit: FileStore's encoded file name must fit 255 bytes).
  // Pure, so any thread may ask, before open() too: the gateway refuses
  // names whose keys would not fit before a session is started for them.
  virtual std::optional<StoreError> key_error(std::string_view key) const;
};

// The message of a failed compare-and-put, shared by every store so that
// logs read alike.
TROUPE_EXPORT std::string conflict_message(const std::string& key, Revision written,
                                           Revision stored);
// The error of a batch refused by its fence, shared likewise.
TROUPE_EXPORT StoreError fenced_error(const std::string& key, std::uint64_t stored,
                                      std::uint64_t token);

}  // namespace troupe
