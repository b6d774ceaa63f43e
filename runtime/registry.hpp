#pragma once
// The registry: unique names and topics (duplicate keys) for processes.
//
// A name maps to one live process. It is released automatically when that
// process ends, so whereis never returns a process whose exit has been
// processed. Topics map a key to any number of processes, for pub/sub.
// Every member may be called from any thread, except wait_for and
// lookup_or_start, which a process co_awaits.

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/detail/name_table.hpp"
#include "runtime/export.hpp"
#include "runtime/pid.hpp"
#include "runtime/process.hpp"
#include "runtime/result.hpp"

namespace troupe {

class Runtime;

struct TROUPE_EXPORT RegisterError {
  enum class Kind {
    taken,    // the name is held by `holder`
    noproc,   // the process to register is not alive
    invalid,  // the empty name
  };
  Kind kind = Kind::taken;
  Pid holder;
};

// "name taken by <pid>", "noproc", "invalid name".
TROUPE_EXPORT std::string to_string(const RegisterError& e);
TROUPE_EXPORT const char* to_string(RegisterError::Kind kind);

class TROUPE_EXPORT Registry {
 public:
  explicit Registry(Runtime& rt) : rt_(rt) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Binds `name` to `pid`. A process may hold several names; binding a name
  // to the process that already holds it succeeds.
  Result<void, RegisterError> register_name(std::string_view name, Pid pid);
  // Releases `name` if `pid` holds it (a null pid: whoever holds it).
  bool unregister_name(std::string_view name, Pid pid = {});
  // The live process holding `name`, or a null Pid.
  Pid whereis(std::string_view name) const;
  // Names starting with `prefix`, with their processes, sorted by name.
  std::vector<std::pair<std::string, Pid>> list(std::string_view prefix) const;
  std::size_t size() const;

  // Topics: many processes under one key; a process may join a key once.
  void join(std::string_view topic, Pid pid);
  void leave(std::string_view topic, Pid pid);
  std::vector<Pid> members(std::string_view topic) const;

  // The process registered as `name`, waiting up to `timeout` for one to be
  // registered (e.g. while its supervisor restarts it). Error: timeout.
  using Lookup = Result<Pid, ExitReason>;
  Task<Lookup> wait_for(Process& self, std::string name, Duration timeout);

  // The live process registered as `name`; if there is none, starts exactly
  // one with `start` (which returns the pid of the process it started), even
  // when many processes race for the same name: the others wait for the
  // winner's outcome (up to `timeout`) instead of starting their own.
  using StartFn = std::function<Task<Lookup>(Process&)>;
  Task<Lookup> lookup_or_start(Process& self, std::string name, StartFn start,
                               Duration timeout = default_call_timeout);

  // Called by the runtime when `pid` ends: drops its names and topics.
  void release(Pid pid, const std::vector<std::string>& names,
               const std::vector<std::string>& topics);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Processes waiting for a name, and whether one of them is starting it.
  struct Pending {
    bool starting = false;
    std::vector<ReplyTo> waiters;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Pending, Hash, std::equal_to<>> pending;
    detail::NameTable names;
    std::unordered_map<std::string, std::vector<Pid>, Hash, std::equal_to<>> topics;
  };
  static constexpr std::size_t shard_count = 64;

  void notify(std::vector<ReplyTo> waiters, const Lookup& outcome);
  Task<Lookup> await_outcome(Process& self, std::string name, Ref ref, Duration timeout);

  static std::uint64_t hash_of(std::string_view key) { return Hash{}(key); }
  // The top bits pick the shard; the table inside uses the low bits.
  Shard& shard_of(std::uint64_t hash) const { return shards_[hash >> 58]; }
  Shard& shard_of(std::string_view key) const { return shard_of(hash_of(key)); }

  Runtime& rt_;
  mutable std::array<Shard, shard_count> shards_;
};

}  // namespace troupe
