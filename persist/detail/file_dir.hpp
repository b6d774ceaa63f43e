#pragma once
// FileDir: the blocking file work behind FileStore, one directory of entries.
//
//   <key as file name>   "TRF1", revision (u64 big-endian), value
//   .lock                flock'ed while a FileStore has the directory open
//   .tmp-<n>             a write in progress; removed on open after a crash
//   .journal-<n>         a committed atomic batch not yet fully applied;
//                        replayed on open
//
// A write goes to a temporary file that is fsync'ed and then renamed over
// the entry, so a crash leaves either the old or the new value, never a torn
// one; sync() then fsyncs the directory so that the rename itself survives.
// With fsync disabled both fsyncs are skipped: faster, but a power loss may
// lose or tear recent writes.
//
// Every member blocks; FileStore calls them from libuv's thread pool. They
// may run concurrently on different keys; callers serialise work per key.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persist/detail/batch_plan.hpp"
#include "persist/store.hpp"

namespace troupe::detail {

// The bytes of a .journal-<n> file: "TRJ1", op count, then per op its kind,
// resulting revision, key and value, and a CRC32C of all that. Exposed so
// that tests can stage a crash between commit and apply.
std::string encode_journal(const std::vector<WriteOp>& ops, const BatchPlan& plan);

class FileDir {
 public:
  // Creates the directory if missing, locks it against other FileStores
  // (in this process or another), removes temporary files and replays
  // journals left by a crash.
  static StoreResult<std::unique_ptr<FileDir>> open(const std::string& path, bool fsync);
  ~FileDir();
  FileDir(const FileDir&) = delete;
  FileDir& operator=(const FileDir&) = delete;

  StoreResult<std::optional<Entry>> read(const std::string& key) const;
  StoreResult<Revision> read_revision(const std::string& key) const;
  // Replaces key's file; durable once sync() has returned.
  StoreResult<void> write(const std::string& key, std::string_view value, Revision revision) const;
  // Whether the key existed.
  StoreResult<bool> remove(const std::string& key) const;
  // fsyncs the directory, making renames and removals durable.
  StoreResult<void> sync() const;
  // Every key held, in ascending order.
  StoreResult<std::vector<std::string>> keys() const;
  // Applies a planned batch all-or-nothing across crashes. Every put's file
  // is written first under a temporary name (the step that needs room on
  // the disk); a failure there leaves nothing of the batch. Then the
  // journal's rename commits it, and the files are renamed into place. A
  // failure after the commit (rare: a rename or unlink) is an error for the
  // caller, and the batch is finished before any later operation
  // (finish_committed), so no newer write can be replayed over.
  StoreResult<void> apply_batch(const std::vector<WriteOp>& ops, const BatchPlan& plan) const;
  // Finishes batches committed but not applied (see apply_batch); an error
  // while one cannot be finished yet. Every operation calls it first.
  StoreResult<void> finish_committed() const;

  const std::string& path() const { return path_; }

 private:
  FileDir(std::string path, int dir_fd, int lock_fd, bool fsync);
  StoreResult<void> recover() const;
  StoreResult<void> replay_journal(const std::string& name) const;
  StoreResult<void> apply(const std::vector<WriteOp>& ops, const BatchPlan& plan) const;
  // Writes `value` at `revision` to a new temporary file; its name.
  StoreResult<std::string> stage(const std::string& key, std::string_view value,
                                 Revision revision) const;
  std::string next_temp_name() const;
  StoreError io_error(std::string_view what, std::string_view key, int err) const;

  std::string path_;
  int dir_fd_;
  int lock_fd_;
  bool fsync_;
  mutable std::atomic<std::uint64_t> next_id_{0};
  // Journals of committed batches not yet applied, oldest first.
  mutable std::mutex committed_mutex_;
  mutable std::vector<std::string> committed_;
  mutable std::atomic<bool> has_committed_{false};
};

}  // namespace troupe::detail
