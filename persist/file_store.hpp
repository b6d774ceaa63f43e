#pragma once
// FileStore: the embedded default Store, one directory on the local disk, so
// that Troupe's examples and single-node deployments need no server.
//
// Each key is one file (FileDir, persist/detail/file_dir.hpp, has the layout
// and the crash-safety argument). Writes are crash-safe: temporary file,
// fsync, rename, fsync of the directory; atomic batches go through a journal
// that open() completes after a crash. All file work runs on libuv's thread
// pool (uv_queue_work), so the loop never waits for the disk; size that pool
// with UV_THREADPOOL_SIZE (default 4) before the first store opens.
//
// Operations are serialised per key inside one FileStore, which is what makes
// compare_and_put correct against concurrent writers of the same instance.
// Only one FileStore may have a directory open at a time (open() takes a
// lock on <directory>/.lock), so share one instance per directory.
//
// Keys: any non-empty bytes whose file name (see detail/file_names.hpp) fits
// 255 bytes, i.e. about 250 plain characters or 85 arbitrary bytes; longer
// keys are rejected with StoreErrc::invalid_argument. list() reads the whole
// directory for every page: fine for an actor's namespace, slow for millions
// of keys.
//
// Threading and lifetime as in persist/store.hpp. Call open() first;
// operations issued before it completes wait for it (and fail with its error
// if it fails).

#include <uv.h>

#include <deque>
#include <memory>
#include <unordered_map>

#include "persist/detail/deferred.hpp"
#include "persist/store.hpp"
#include "runtime/export.hpp"

namespace troupe {

namespace detail {
class FileDir;
}

struct TROUPE_EXPORT FileStoreOptions {
  std::string directory;
  // false skips every fsync: for benchmarks and throwaway data only, a power
  // loss may then lose or tear recent writes.
  bool fsync = true;
};

class TROUPE_EXPORT FileStore final : public Store {
 public:
  FileStore(uv_loop_t* loop, FileStoreOptions options);
  ~FileStore() override;

  // Creates and locks the directory and recovers from a crash (see above).
  void open(StoreCallback<void> done);

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
  std::optional<StoreError> key_error(std::string_view key) const override;
  // FileStore's key rules (key_error) without a store. Any thread.
  static std::optional<StoreError> check_key(std::string_view key);

  const std::string& directory() const { return options_.directory; }

 private:
  struct Job;
  enum class State { created, opening, open, failed, closing, closed };

  template <class T, class Work>
  void submit(std::vector<std::string> keys, Work work, StoreCallback<T> done);
  template <class T>
  void reject(StoreCallback<T> done, StoreError error);
  std::optional<StoreError> check_usable(std::string_view key) const;
  void enqueue(Job* job);
  void start(Job* job);
  void finish(Job* job);
  void maybe_closed();
  static void on_work(uv_work_t* req);
  static void on_after_work(uv_work_t* req, int status);

  uv_loop_t* loop_;
  FileStoreOptions options_;
  State state_ = State::created;
  std::optional<StoreError> open_error_;
  std::unique_ptr<detail::FileDir> dir_;
  // Jobs waiting for open() to finish.
  std::vector<Job*> before_open_;
  // Per key, the jobs that touch it in issue order; a job runs once it heads
  // the queue of every key it touches.
  std::unordered_map<std::string, std::deque<Job*>> queues_;
  std::size_t unfinished_ = 0;
  std::function<void()> on_closed_;
  detail::Deferred deferred_;
};

}  // namespace troupe
