#include "persist/detail/file_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "persist/detail/big_endian.hpp"
#include "persist/detail/crc32c.hpp"
#include "persist/detail/file_names.hpp"
#include "persist/detail/validate.hpp"

namespace troupe::detail {
namespace {

// Running out of descriptors is pressure that passes (connections close), not
// a broken disk: callers see StoreErrc::unavailable and retry.
bool out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE;
}

constexpr std::string_view entry_magic = "TRF1";
constexpr std::size_t entry_header = 12;  // magic + revision
constexpr std::string_view journal_magic = "TRJ1";

// Writes every byte of the iovecs, resuming after partial writes and EINTR.
bool write_all(int fd, iovec* iov, int count) {
  while (count > 0) {
    ssize_t n = ::writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    while (count > 0 && static_cast<std::size_t>(n) >= iov->iov_len) {
      n -= static_cast<ssize_t>(iov->iov_len);
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + n;
      iov->iov_len -= static_cast<std::size_t>(n);
    }
  }
  return true;
}

// Reads the whole file at fd; false with errno set on failure.
bool read_all(int fd, std::string& out) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;  // shrank under us; the header check below catches it
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return true;
}

bool make_dirs(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool decode_journal(std::string_view in, std::vector<WriteOp>& ops, BatchPlan& plan) {
  if (in.size() < 12 || in.substr(0, 4) != journal_magic) return false;
  if (get_be(in, in.size() - 4, 4) != crc32c(in.substr(0, in.size() - 4))) return false;
  std::size_t at = 8, end = in.size() - 4;
  auto count = get_be(in, 4, 4);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (end - at < 13) return false;
    WriteOp op;
    op.kind = in[at] == 'd' ? WriteOp::Kind::del : WriteOp::Kind::put;
    plan.push_back(get_be(in, at + 1, 8));
    auto key_size = get_be(in, at + 9, 4);
    at += 13;
    if (end - at < key_size + 4) return false;
    op.key = std::string(in.substr(at, key_size));
    at += key_size;
    auto value_size = get_be(in, at, 4);
    at += 4;
    if (end - at < value_size) return false;
    op.value = std::string(in.substr(at, value_size));
    at += value_size;
    ops.push_back(std::move(op));
  }
  return at == end;
}

}  // namespace

std::string encode_journal(const std::vector<WriteOp>& ops, const BatchPlan& plan) {
  std::string out(journal_magic);
  put_be(out, ops.size(), 4);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    out += ops[i].kind == WriteOp::Kind::del ? 'd' : 'p';
    put_be(out, plan[i], 8);
    put_be(out, ops[i].key.size(), 4);
    out += ops[i].key;
    put_be(out, ops[i].value.size(), 4);
    out += ops[i].value;
  }
  put_be(out, crc32c(out), 4);
  return out;
}

FileDir::FileDir(std::string path, int dir_fd, int lock_fd, bool fsync)
    : path_(std::move(path)), dir_fd_(dir_fd), lock_fd_(lock_fd), fsync_(fsync) {}

FileDir::~FileDir() {
  ::close(dir_fd_);
  ::close(lock_fd_);  // releases the flock
}

StoreResult<std::unique_ptr<FileDir>> FileDir::open(const std::string& path, bool fsync) {
  auto fail = [&](std::string what) {
    const int err = errno;
    if (out_of_descriptors(err)) {
      return unexpected(StoreError{StoreErrc::unavailable,
                                   "FileStore " + path + ": " + what + ": " + std::strerror(err) +
                                       " (the process is out of file descriptors; retry later)"});
    }
    return unexpected(StoreError{StoreErrc::io_error,
                                 "FileStore " + path + ": " + what + ": " + std::strerror(err)});
  };
  if (path.empty()) {
    return unexpected(StoreError{StoreErrc::invalid_argument, "FileStore needs a directory path"});
  }
  if (!make_dirs(path)) return fail("cannot create the directory");
  int dir_fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return fail("cannot open the directory");
  int lock_fd = ::openat(dir_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    auto r = fail("cannot create .lock");
    ::close(dir_fd);
    return r;
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    ::close(dir_fd);
    if (err == EWOULDBLOCK) {
      return unexpected(
          StoreError{StoreErrc::unavailable, "FileStore " + path +
                                                 ": the directory is in use by another "
                                                 "FileStore (its .lock is held)"});
    }
    errno = err;
    return fail("cannot lock .lock");
  }
  std::unique_ptr<FileDir> dir(new FileDir(path, dir_fd, lock_fd, fsync));
  if (auto r = dir->recover(); !r) return unexpected(r.error());
  return dir;
}

StoreError FileDir::io_error(std::string_view what, std::string_view key, int err) const {
  std::string text = "FileStore " + path_ + ": " + std::string(what);
  if (!key.empty()) text += " of key '" + printable_key(key) + "'";
  text += ": ";
  text += std::strerror(err);
  if (out_of_descriptors(err)) {
    text += " (the process is out of file descriptors; retry later)";
    return {StoreErrc::unavailable, std::move(text)};
  }
  return {StoreErrc::io_error, std::move(text)};
}

std::string FileDir::next_temp_name() const {
  return ".tmp-" + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed));
}

StoreResult<std::optional<Entry>> FileDir::read(const std::string& key) const {
  int fd = ::openat(dir_fd_, key_to_file_name(key).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<Entry>();
  if (fd < 0) return unexpected(io_error("open for reading", key, errno));
  std::string bytes;
  bool ok = read_all(fd, bytes);
  int err = errno;
  ::close(fd);
  if (!ok) return unexpected(io_error("read", key, err));
  if (bytes.size() < entry_header || std::string_view(bytes).substr(0, 4) != entry_magic) {
    return unexpected(StoreError{StoreErrc::corrupt, "FileStore " + path_ + ": the file of key '" +
                                                         printable_key(key) +
                                                         "' is not a FileStore entry (" +
                                                         std::to_string(bytes.size()) + " bytes)"});
  }
  return std::optional<Entry>(Entry{bytes.substr(entry_header), get_be(bytes, 4, 8)});
}

StoreResult<Revision> FileDir::read_revision(const std::string& key) const {
  int fd = ::openat(dir_fd_, key_to_file_name(key).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return Revision{0};
  if (fd < 0) return unexpected(io_error("open for reading", key, errno));
  char header[entry_header];
  ssize_t n;
  do n = ::pread(fd, header, sizeof header, 0);
  while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) return unexpected(io_error("read", key, err));
  std::string_view h(header, static_cast<std::size_t>(n));
  if (h.size() < entry_header || h.substr(0, 4) != entry_magic) {
    return unexpected(StoreError{StoreErrc::corrupt, "FileStore " + path_ + ": the file of key '" +
                                                         printable_key(key) +
                                                         "' is not a FileStore entry"});
  }
  return get_be(h, 4, 8);
}

StoreResult<std::string> FileDir::stage(const std::string& key, std::string_view value,
                                        Revision revision) const {
  std::string header(entry_magic);
  put_be(header, revision, 8);
  std::string temp = next_temp_name();
  int fd = ::openat(dir_fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return unexpected(io_error("create a temporary file for the write", key, errno));
  iovec iov[2] = {{header.data(), header.size()}, {const_cast<char*>(value.data()), value.size()}};
  const char* step = nullptr;
  if (!write_all(fd, iov, 2)) {
    step = "write";
  } else if (fsync_ && ::fdatasync(fd) != 0) {
    step = "fsync";
  }
  int err = errno;
  if (::close(fd) != 0 && !step) {
    step = "close";
    err = errno;
  }
  if (step) {
    ::unlinkat(dir_fd_, temp.c_str(), 0);
    return unexpected(io_error(step, key, err));
  }
  return temp;
}

StoreResult<void> FileDir::write(const std::string& key, std::string_view value,
                                 Revision revision) const {
  auto temp = stage(key, value, revision);
  if (!temp) return unexpected(temp.error());
  if (::renameat(dir_fd_, temp->c_str(), dir_fd_, key_to_file_name(key).c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dir_fd_, temp->c_str(), 0);
    return unexpected(io_error("rename", key, err));
  }
  return {};
}

StoreResult<bool> FileDir::remove(const std::string& key) const {
  if (::unlinkat(dir_fd_, key_to_file_name(key).c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  return unexpected(io_error("unlink", key, errno));
}

StoreResult<void> FileDir::sync() const {
  if (fsync_ && ::fsync(dir_fd_) != 0)
    return unexpected(io_error("fsync the directory", {}, errno));
  return {};
}

StoreResult<std::vector<std::string>> FileDir::keys() const {
  // A fresh open file description per listing: a dup'ed fd would share its
  // read position with concurrent listings on other pool threads.
  int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return unexpected(io_error("open the directory for listing", {}, errno));
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    return unexpected(io_error("list the directory", {}, err));
  }
  std::vector<std::string> keys;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ours (.lock, .tmp-*, .journal-*) or not an entry
    if (auto key = file_name_to_key(e->d_name)) keys.push_back(std::move(*key));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return unexpected(io_error("list the directory", {}, err));
  std::sort(keys.begin(), keys.end());
  return keys;
}

StoreResult<void> FileDir::apply(const std::vector<WriteOp>& ops, const BatchPlan& plan) const {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == WriteOp::Kind::del) {
      if (auto r = remove(ops[i].key); !r) return unexpected(r.error());
    } else if (auto r = write(ops[i].key, ops[i].value, plan[i]); !r) {
      return r;
    }
  }
  return sync();
}

StoreResult<void> FileDir::apply_batch(const std::vector<WriteOp>& ops,
                                       const BatchPlan& plan) const {
  // 1. Every put's file under a temporary name: what needs room on the disk
  // and fails when it is full. Nothing of the batch is visible yet.
  std::vector<std::string> staged(ops.size());
  auto unstage = [&](std::size_t from) {
    for (std::size_t i = from; i < staged.size(); ++i)
      if (!staged[i].empty()) ::unlinkat(dir_fd_, staged[i].c_str(), 0);
  };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == WriteOp::Kind::del) continue;
    auto temp = stage(ops[i].key, ops[i].value, plan[i]);
    if (!temp) {
      unstage(0);
      return unexpected(temp.error());
    }
    staged[i] = std::move(*temp);
  }
  // 2. The journal's rename is the commit point: before it nothing of the
  // batch exists, after it open() finishes the batch even if this thread dies.
  std::string journal = ".journal-" + std::to_string(next_id_.fetch_add(1));
  std::string temp = next_temp_name();
  std::string bytes = encode_journal(ops, plan);
  int fd = ::openat(dir_fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  int err = errno;
  if (ok) {
    iovec iov{bytes.data(), bytes.size()};
    ok = write_all(fd, &iov, 1) && (!fsync_ || ::fdatasync(fd) == 0);
    err = errno;
    ok = (::close(fd) == 0) && ok;
  }
  if (ok && ::renameat(dir_fd_, temp.c_str(), dir_fd_, journal.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlinkat(dir_fd_, temp.c_str(), 0);
    unstage(0);
    return unexpected(io_error("write the batch journal", {}, err));
  }
  // 3. Into place, in the batch's order: renames and unlinks, which need no
  // room. Should one fail, the batch is committed but not applied: it is
  // finished before anything else touches the store.
  auto applied = sync();
  for (std::size_t i = 0; applied && i < ops.size(); ++i) {
    if (ops[i].kind == WriteOp::Kind::del) {
      if (auto r = remove(ops[i].key); !r) applied = unexpected(r.error());
    } else if (::renameat(dir_fd_, staged[i].c_str(), dir_fd_,
                          key_to_file_name(ops[i].key).c_str()) != 0) {
      applied = unexpected(io_error("rename", ops[i].key, errno));
    } else {
      staged[i].clear();
    }
  }
  if (applied) applied = sync();
  // Durably gone before the batch is acknowledged, so that a later crash can
  // never replay it over newer writes.
  if (applied && ::unlinkat(dir_fd_, journal.c_str(), 0) != 0)
    applied = unexpected(io_error("remove the batch journal", {}, errno));
  if (applied) applied = sync();
  if (!applied) {
    unstage(0);
    {
      std::lock_guard<std::mutex> lock(committed_mutex_);
      committed_.push_back(journal);
      has_committed_.store(true, std::memory_order_release);
    }
    auto e = applied.error();
    e.message += " (the batch is committed in " + journal +
                 " and is finished before any later operation of this store)";
    return unexpected(std::move(e));
  }
  return {};
}

StoreResult<void> FileDir::finish_committed() const {
  if (!has_committed_.load(std::memory_order_acquire)) return {};
  std::lock_guard<std::mutex> lock(committed_mutex_);
  while (!committed_.empty()) {
    if (auto r = replay_journal(committed_.front()); !r) {
      auto e = r.error();
      e.message =
          "a committed batch is not finished yet, so nothing newer is written: " + e.message;
      return unexpected(std::move(e));
    }
    committed_.erase(committed_.begin());
  }
  has_committed_.store(false, std::memory_order_release);
  return {};
}

StoreResult<void> FileDir::replay_journal(const std::string& name) const {
  int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected(io_error("open journal " + name, {}, errno));
  std::string bytes;
  bool ok = read_all(fd, bytes);
  int err = errno;
  ::close(fd);
  if (!ok) return unexpected(io_error("read journal " + name, {}, err));
  std::vector<WriteOp> ops;
  BatchPlan plan;
  if (!decode_journal(bytes, ops, plan)) {
    return unexpected(StoreError{StoreErrc::corrupt,
                                 "FileStore " + path_ + ": journal " + name +
                                     " is damaged, so the batch it holds may be partly applied; "
                                     "inspect or remove it to open the store"});
  }
  if (auto r = apply(ops, plan); !r) return r;
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0) {
    return unexpected(io_error("remove journal " + name, {}, errno));
  }
  return sync();
}

StoreResult<void> FileDir::recover() const {
  int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return unexpected(io_error("open the directory", {}, errno));
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return unexpected(io_error("list the directory", {}, errno));
  }
  std::vector<std::string> temps, journals;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.starts_with(".tmp-")) temps.emplace_back(name);
    if (name.starts_with(".journal-")) journals.emplace_back(name);
  }
  ::closedir(d);
  for (const auto& t : temps) {
    if (::unlinkat(dir_fd_, t.c_str(), 0) != 0 && errno != ENOENT) {
      return unexpected(io_error("remove leftover " + t, {}, errno));
    }
  }
  // Journals replay in commit order: a later batch may overwrite an earlier.
  std::sort(journals.begin(), journals.end(), [](const std::string& a, const std::string& b) {
    return std::strtoull(a.c_str() + 9, nullptr, 10) < std::strtoull(b.c_str() + 9, nullptr, 10);
  });
  for (const auto& j : journals) {
    if (auto r = replay_journal(j); !r) return r;
  }
  return sync();
}

}  // namespace troupe::detail
