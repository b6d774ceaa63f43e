#pragma once
// Test support: the log sink of runtime/log.hpp replaced, for the life of a
// LogRecorder, by one that keeps every record (or only one component's),
// copied: a LogRecord only views the caller's data.

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/log.hpp"

namespace troupe::test {

struct KeptRecord {
  LogLevel level;
  std::string component;
  std::string message;
  std::map<std::string, std::string> fields;

  // The field's value, or "" when the record has none.
  std::string field(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  }
};

class LogRecorder {
 public:
  // `component` empty: keep every record.
  explicit LogRecorder(std::string component = {}) : component_(std::move(component)) {
    set_log_sink([this](const LogRecord& r) {
      if (!component_.empty() && r.component != component_) return;
      KeptRecord k{r.level, std::string(r.component), std::string(r.message), {}};
      for (const LogField& f : r.fields) k.fields[std::string(f.key)] = std::string(f.value);
      std::lock_guard lock(mutex_);
      kept_.push_back(std::move(k));
      count_.store(kept_.size());
    });
  }
  ~LogRecorder() { set_log_sink(nullptr); }
  LogRecorder(const LogRecorder&) = delete;
  LogRecorder& operator=(const LogRecorder&) = delete;

  std::vector<KeptRecord> kept() const {
    std::lock_guard lock(mutex_);
    return kept_;
  }
  // Lock-free, for a process that spins until a record arrives.
  std::size_t count() const { return count_.load(); }

 private:
  const std::string component_;
  mutable std::mutex mutex_;
  std::vector<KeptRecord> kept_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace troupe::test
