#include "persist/file_store.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "persist/detail/batch_plan.hpp"
#include "persist/detail/file_dir.hpp"
#include "persist/detail/file_names.hpp"
#include "persist/detail/page.hpp"
#include "persist/detail/validate.hpp"

namespace troupe {

struct FileStore::Job {
  FileStore* store = nullptr;
  std::vector<std::string> keys;         // distinct
  std::size_t blocked = 0;               // keys whose queue this job does not head yet
  std::function<void()> work;            // pool thread
  std::function<void()> after;           // loop thread, after work
  std::function<void(StoreError)> fail;  // loop thread, instead of work and after
  uv_work_t req{};
};

FileStore::FileStore(uv_loop_t* loop, FileStoreOptions options)
    : loop_(loop), options_(std::move(options)), deferred_(loop) {}

FileStore::~FileStore() = default;

void FileStore::open(StoreCallback<void> done) {
  if (state_ != State::created) throw std::logic_error("FileStore::open called twice");
  state_ = State::opening;
  auto* job = new Job;
  job->store = this;
  auto opened = std::make_shared<StoreResult<std::unique_ptr<detail::FileDir>>>(
      unexpected(StoreError{StoreErrc::io_error, "open did not run"}));
  job->work = [opened, path = options_.directory, fsync = options_.fsync] {
    *opened = detail::FileDir::open(path, fsync);
  };
  job->after = [this, opened, done = std::move(done)] {
    auto waiting = std::move(before_open_);
    before_open_.clear();
    if (opened->ok()) {
      dir_ = std::move(opened->value());
      state_ = state_ == State::closing ? state_ : State::open;
      for (Job* j : waiting) enqueue(j);
      done({});
    } else {
      open_error_ = opened->error();
      if (state_ != State::closing) state_ = State::failed;
      for (Job* j : waiting) {
        j->fail(*open_error_);
        delete j;
        --unfinished_;
      }
      done(unexpected(*open_error_));
    }
  };
  ++unfinished_;
  start(job);
}

std::optional<StoreError> FileStore::check_usable(std::string_view key) const {
  if (state_ == State::created) throw std::logic_error("FileStore: call open() first");
  if (state_ == State::closing || state_ == State::closed) {
    throw std::logic_error("FileStore: operation issued after close()");
  }
  if (state_ == State::failed) return open_error_;
  return key_error(key);
}

std::optional<StoreError> FileStore::key_error(std::string_view key) const {
  return check_key(key);
}

std::optional<StoreError> FileStore::check_key(std::string_view key) {
  if (auto e = detail::check_key(key)) return e;
  auto name = detail::key_to_file_name(key);
  if (name.size() > detail::max_file_name) {
    return StoreError{StoreErrc::invalid_argument,
                      "key '" + detail::printable_key(key) + "' is too long for FileStore: " +
                          std::to_string(name.size()) + " bytes as a file name, the limit is " +
                          std::to_string(detail::max_file_name)};
  }
  return std::nullopt;
}

template <class T>
void FileStore::reject(StoreCallback<T> done, StoreError error) {
  deferred_.post([done = std::move(done), e = std::move(error)] { done(unexpected(e)); });
}

template <class T, class Work>
void FileStore::submit(std::vector<std::string> keys, Work work, StoreCallback<T> done) {
  auto* job = new Job;
  job->store = this;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  job->keys = std::move(keys);
  auto result = std::make_shared<std::optional<StoreResult<T>>>();
  job->work = [this, result, work = std::move(work)]() mutable {
    try {
      // A batch committed but not applied goes before anything newer.
      if (auto finished = dir_->finish_committed(); !finished)
        result->emplace(unexpected(finished.error()));
      else
        result->emplace(work(*dir_));
    } catch (const std::exception& e) {
      result->emplace(unexpected(
          StoreError{StoreErrc::io_error, "FileStore " + options_.directory + ": " + e.what()}));
    }
  };
  job->fail = [done](StoreError e) {
    done(unexpected(std::move(e)));
  };
  job->after = [result, done = std::move(done)] {
    done(std::move(**result));
  };
  ++unfinished_;
  if (state_ == State::opening) {
    before_open_.push_back(job);
  } else {
    enqueue(job);
  }
}

void FileStore::enqueue(Job* job) {
  for (const auto& key : job->keys) {
    auto& queue = queues_[key];
    if (!queue.empty()) ++job->blocked;
    queue.push_back(job);
  }
  if (job->blocked == 0) start(job);
}

void FileStore::start(Job* job) {
  job->req.data = job;
  if (int rc = uv_queue_work(loop_, &job->req, on_work, on_after_work); rc != 0) {
    throw std::runtime_error(std::string("uv_queue_work: ") + uv_strerror(rc));
  }
}

void FileStore::on_work(uv_work_t* req) {
  static_cast<Job*>(req->data)->work();
}

void FileStore::on_after_work(uv_work_t* req, int) {
  auto* job = static_cast<Job*>(req->data);
  job->store->finish(job);
}

void FileStore::finish(Job* job) {
  for (const auto& key : job->keys) {
    auto it = queues_.find(key);
    it->second.pop_front();
    if (it->second.empty()) {
      queues_.erase(it);
    } else if (Job* next = it->second.front(); --next->blocked == 0) {
      start(next);
    }
  }
  job->after();
  delete job;
  --unfinished_;
  maybe_closed();
}

void FileStore::close(std::function<void()> done) {
  if (state_ == State::closing || state_ == State::closed) {
    throw std::logic_error("FileStore::close called twice");
  }
  state_ = State::closing;
  on_closed_ = std::move(done);
  maybe_closed();
}

void FileStore::maybe_closed() {
  if (state_ != State::closing || unfinished_ != 0) return;
  state_ = State::closed;
  dir_.reset();  // releases the directory lock
  deferred_.close(std::move(on_closed_));
}

void FileStore::get(std::string key, StoreCallback<std::optional<Entry>> done) {
  if (auto e = check_usable(key)) return reject(std::move(done), std::move(*e));
  submit<std::optional<Entry>>(
      {key}, [key](const detail::FileDir& dir) { return dir.read(key); }, std::move(done));
}

void FileStore::put(std::string key, std::string value, StoreCallback<Revision> done) {
  if (auto e = check_usable(key)) return reject(std::move(done), std::move(*e));
  auto work = [key, value = std::move(value)](const detail::FileDir& dir) -> StoreResult<Revision> {
    auto stored = dir.read_revision(key);
    if (!stored) return unexpected(stored.error());
    if (auto r = dir.write(key, value, *stored + 1); !r) return unexpected(r.error());
    if (auto r = dir.sync(); !r) return unexpected(r.error());
    return *stored + 1;
  };
  submit<Revision>({key}, std::move(work), std::move(done));
}

void FileStore::del(std::string key, StoreCallback<bool> done) {
  if (auto e = check_usable(key)) return reject(std::move(done), std::move(*e));
  auto work = [key](const detail::FileDir& dir) -> StoreResult<bool> {
    auto existed = dir.remove(key);
    if (!existed || !*existed) return existed;
    if (auto r = dir.sync(); !r) return unexpected(r.error());
    return true;
  };
  submit<bool>({key}, std::move(work), std::move(done));
}

void FileStore::list(std::string prefix, ListOptions options, StoreCallback<Page> done) {
  if (auto e = check_usable("list")) return reject(std::move(done), std::move(*e));
  if (options.limit == 0) {
    return reject(std::move(done),
                  StoreError{StoreErrc::invalid_argument, "list limit must be at least 1"});
  }
  auto work = [prefix = std::move(prefix),
               options = std::move(options)](const detail::FileDir& dir) -> StoreResult<Page> {
    auto keys = dir.keys();
    if (!keys) return unexpected(keys.error());
    auto it = std::lower_bound(keys->begin(), keys->end(), prefix);
    if (!options.cursor.empty() && options.cursor >= prefix) {
      it = std::upper_bound(keys->begin(), keys->end(), options.cursor);
    }
    detail::PageBuilder page(prefix, options.limit);
    for (; it != keys->end() && page.wants(*it); ++it) {
      auto entry = dir.read(*it);
      if (!entry) return unexpected(entry.error());
      // Deleted since the directory was read: as if listed a moment later.
      if (*entry) page.add(Item{*it, std::move((*entry)->value), (*entry)->revision});
    }
    return std::move(page).finish();
  };
  submit<Page>({}, std::move(work), std::move(done));
}

void FileStore::batch(std::vector<WriteOp> ops, StoreCallback<void> done) {
  if (auto e = check_usable("batch")) return reject(std::move(done), std::move(*e));
  for (const auto& op : ops) {
    if (auto e = check_usable(op.key)) return reject(std::move(done), std::move(*e));
  }
  if (auto e = detail::check_batch(ops)) return reject(std::move(done), std::move(*e));
  std::vector<std::string> keys;
  for (const auto& op : ops) keys.push_back(op.key);
  auto work = [ops = std::move(ops)](const detail::FileDir& dir) mutable -> StoreResult<void> {
    // Fences first: a refused fence leaves everything as it was.
    std::map<std::string, std::string> fences;
    for (const auto& op : ops) {
      if (op.kind != WriteOp::Kind::fence) continue;
      auto entry = dir.read(op.key);
      if (!entry) return unexpected(entry.error());
      if (*entry) fences[op.key] = std::move((*entry)->value);
    }
    auto resolved = detail::resolve_fences(std::move(ops), fences);
    if (!resolved) return unexpected(resolved.error());
    ops = std::move(*resolved);
    if (ops.empty()) return {};  // nothing to write (a fence already at its token)
    std::map<std::string, Revision> stored;
    for (const auto& op : ops) {
      if (stored.count(op.key)) continue;
      auto rev = dir.read_revision(op.key);
      if (!rev) return unexpected(rev.error());
      stored[op.key] = *rev;
    }
    auto plan = detail::plan_batch(ops, stored);
    if (!plan) return unexpected(plan.error());
    return dir.apply_batch(ops, *plan);
  };
  submit<void>(std::move(keys), std::move(work), std::move(done));
}

void FileStore::compare_and_put(std::string key, std::string value, Revision revision,
                                StoreCallback<void> done) {
  if (auto e = check_usable(key)) return reject(std::move(done), std::move(*e));
  if (revision == 0) {
    return reject(std::move(done), StoreError{StoreErrc::invalid_argument,
                                              "compare-and-put of key '" +
                                                  detail::printable_key(key) + "' at revision 0"});
  }
  auto work = [key, value = std::move(value),
               revision](const detail::FileDir& dir) -> StoreResult<void> {
    auto stored = dir.read_revision(key);
    if (!stored) return unexpected(stored.error());
    if (*stored + 1 != revision) {
      return unexpected(StoreError{StoreErrc::conflict, conflict_message(key, revision, *stored)});
    }
    if (auto r = dir.write(key, value, revision); !r) return r;
    return dir.sync();
  };
  submit<void>({key}, std::move(work), std::move(done));
}

void FileStore::compare_and_put_many(std::vector<CasWrite> writes,
                                     StoreCallback<std::vector<CasOutcome>> done) {
  if (auto e = check_usable("compare_and_put_many")) return reject(std::move(done), std::move(*e));
  for (const auto& w : writes) {
    if (auto e = check_usable(w.key)) return reject(std::move(done), std::move(*e));
  }
  if (auto e = detail::check_cas_many(writes)) return reject(std::move(done), std::move(*e));
  std::vector<std::string> keys;
  for (const auto& w : writes) keys.push_back(w.key);
  auto work = [writes = std::move(writes)](
                  const detail::FileDir& dir) -> StoreResult<std::vector<CasOutcome>> {
    std::vector<CasOutcome> outcomes;
    outcomes.reserve(writes.size());
    bool wrote = false;
    for (const auto& w : writes) {
      auto stored = dir.read_revision(w.key);
      if (!stored) return unexpected(stored.error());
      if (*stored + 1 != w.revision) {
        outcomes.push_back({false, *stored});
        continue;
      }
      if (auto r = dir.write(w.key, w.value, w.revision); !r) return unexpected(r.error());
      outcomes.push_back({true, w.revision});
      wrote = true;
    }
    // One directory fsync makes every rename of the step durable.
    if (wrote) {
      if (auto r = dir.sync(); !r) return unexpected(r.error());
    }
    return outcomes;
  };
  submit<std::vector<CasOutcome>>(std::move(keys), std::move(work), std::move(done));
}

}  // namespace troupe
