#include "cluster/redis_directory.hpp"

#include <stdexcept>

#include "cluster/detail/directory_records.hpp"
#include "cluster/detail/directory_script.hpp"
#include "persist/detail/validate.hpp"

namespace troupe::cluster {

namespace {

using troupe::detail::printable_key;

// An operation's error with what it was about in front.
StoreError about(StoreError e, const std::string& what) {
  e.message = what + ": " + e.message;
  return e;
}

bool is_string(const RedisReply& r) {
  return r.type == RedisReply::Type::string;
}

// {tag, ...} with every element a string; nullptr otherwise.
const std::vector<RedisReply>* tagged(const RedisReply& r) {
  if (r.type != RedisReply::Type::array || r.elements.empty()) return nullptr;
  for (const auto& e : r.elements) {
    if (!is_string(e)) return nullptr;
  }
  return &r.elements;
}

std::optional<Owner> owner_of(const std::vector<RedisReply>& e) {
  if (e.size() != 4) return std::nullopt;
  auto incarnation = detail::parse_decimal(e[2].str);
  auto fence = detail::parse_decimal(e[3].str);
  if (!incarnation || !fence) return std::nullopt;
  return Owner{e[1].str, *incarnation, *fence};
}

StoreError corrupt(const std::string& what, const std::string& record_kind,
                   const std::string& record) {
  return {StoreErrc::corrupt,
          what + ": the " + record_kind + " does not parse: '" + printable_key(record) + "'"};
}

}  // namespace

StoreResult<std::unique_ptr<RedisDirectory>> RedisDirectory::create(uv_loop_t* loop,
                                                                    RedisDirectoryOptions options) {
  if (options.key_prefix.empty()) {
    return unexpected(StoreError{StoreErrc::invalid_argument,
                                 "the cluster directory's key prefix must not be empty"});
  }
  if (options.wait_replicas > 0 && options.wait_timeout >= options.command_timeout) {
    return unexpected(StoreError{StoreErrc::invalid_argument,
                                 "the cluster directory's wait_timeout (" +
                                     std::to_string(options.wait_timeout.count()) +
                                     " ms) must be below its command_timeout (" +
                                     std::to_string(options.command_timeout.count()) + " ms)"});
  }
  auto redis = RedisStore::create(loop, {.url = options.url,
                                         .key_prefix = options.key_prefix,
                                         .connect_timeout = options.connect_timeout,
                                         .command_timeout = options.command_timeout,
                                         .backoff_initial = options.backoff_initial,
                                         .backoff_max = options.backoff_max});
  if (!redis) return unexpected(redis.error());
  return std::unique_ptr<RedisDirectory>(
      new RedisDirectory(loop, std::move(options), std::move(redis.value())));
}

RedisDirectory::RedisDirectory(uv_loop_t* loop, RedisDirectoryOptions options,
                               std::unique_ptr<RedisStore> redis)
    : options_(std::move(options)), redis_(std::move(redis)), deferred_(loop) {
  // Called when a connection becomes ready, before the commands that waited
  // for it are sent: SCRIPT LOAD is the first command of every connection.
  redis_->on_state_change([this](RedisState state, const StoreError* error) {
    if (state == RedisState::ready && !closing_) {
      redis_->command({"SCRIPT", "LOAD", std::string(detail::directory_script)},
                      [](StoreResult<RedisReply>) {
                        // A failed load shows up as NOSCRIPT, answered with EVAL.
                      });
    }
    if (listener_) listener_(state, error);
  });
}

RedisDirectory::~RedisDirectory() = default;

void RedisDirectory::connect(StoreCallback<void> done) {
  redis_->connect(std::move(done));
}

void RedisDirectory::on_state_change(std::function<void(RedisState, const StoreError*)> listener) {
  listener_ = std::move(listener);
}

void RedisDirectory::ensure_open(const char* op) const {
  if (closing_) {
    throw std::logic_error(std::string("RedisDirectory::") + op + " issued after close()");
  }
}

const NodeInfo& RedisDirectory::joined(const char* op) const {
  ensure_open(op);
  if (!self_) {
    throw std::logic_error(std::string("RedisDirectory::") + op +
                           " before a join succeeded (cluster/directory.hpp, Lifetime)");
  }
  return *self_;
}

template <class T>
void RedisDirectory::reject(StoreCallback<T> done, StoreError error) {
  deferred_.post([done = std::move(done), e = std::move(error)] { done(unexpected(e)); });
}

StoreError RedisDirectory::unexpected_reply(const std::string& what) const {
  return {StoreErrc::io_error, what + ": Redis at " + redis_->endpoint().display() +
                                   " gave an unexpected reply to the directory script"};
}

StoreError RedisDirectory::lease_lost(const std::string& what, const std::string& id,
                                      std::uint64_t incarnation, const std::string& held) const {
  std::string why = held.empty() ? "its lease expired or was dropped"
                                 : "incarnation " + held + " holds the id now";
  return {StoreErrc::conflict, what + ": lease lost: node " + id + " incarnation " +
                                   std::to_string(incarnation) + ": " + why};
}

// ---- the script -------------------------------------------------------------

void RedisDirectory::run(std::string what, std::vector<std::string> args,
                         StoreCallback<RedisReply> done) {
  std::vector<std::string> command{"EVALSHA", detail::directory_script_sha()};
  command.insert(command.end(), args.begin(), args.end());
  redis_->command(std::move(command), [this, what = std::move(what), args = std::move(args),
                                       done = std::move(done)](StoreResult<RedisReply> r) mutable {
    if (r && r->is_error() && r->str.starts_with("NOSCRIPT")) {
      if (closing_) {
        return done(unexpected(StoreError{StoreErrc::closed, what + ": the directory was closed"}));
      }
      args.insert(args.begin(), {"EVAL", std::string(detail::directory_script)});
      return redis_->command(std::move(args), [this, what = std::move(what),
                                               done = std::move(done)](StoreResult<RedisReply> r) {
        script_done(what, std::move(r), done);
      });
    }
    script_done(what, std::move(r), done);
  });
}

void RedisDirectory::script_done(const std::string& what, StoreResult<RedisReply> r,
                                 const StoreCallback<RedisReply>& done) const {
  if (!r) return done(unexpected(about(r.error(), what)));
  if (r->is_error()) {
    return done(unexpected(
        StoreError{StoreErrc::io_error,
                   what + ": Redis at " + redis_->endpoint().display() + " failed: " + r->str}));
  }
  done(std::move(r));
}

// ---- membership -------------------------------------------------------------

void RedisDirectory::join(NodeInfo self, Duration ttl, StoreCallback<std::uint64_t> done) {
  ensure_open("join");
  if (joining_) throw std::logic_error("RedisDirectory::join while a join is in flight");
  std::string what = "join of node '" + printable_key(self.id) + "'";
  if (auto e = node_id_error(self.id)) return reject(std::move(done), about(*e, what));
  if (auto e = detail::host_error(self.host)) return reject(std::move(done), about(*e, what));
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  if (ttl_ms < 1) {
    return reject(std::move(done), StoreError{StoreErrc::invalid_argument,
                                              what + ": the lease ttl must be at least 1 ms"});
  }
  joining_ = true;
  std::vector<std::string> args{
      "3",     key("incarnation", ""), key("lease:", self.id),  key("nodes", ""), "join",
      self.id, std::to_string(ttl_ms), detail::lease_tail(self)};
  run(what, std::move(args),
      [this, what, self = std::move(self), ttl_ms,
       done = std::move(done)](StoreResult<RedisReply> r) mutable {
        joining_ = false;
        if (!r) return done(unexpected(r.error()));
        auto incarnation = is_string(*r) ? detail::parse_decimal(r->str) : std::nullopt;
        if (!incarnation) return done(unexpected(unexpected_reply(what)));
        self.incarnation = *incarnation;
        self_ = std::move(self);
        ttl_ms_ = static_cast<std::uint64_t>(ttl_ms);
        done(*incarnation);
      });
}

void RedisDirectory::renew(bool draining, StoreCallback<void> done) {
  const NodeInfo& self = joined("renew");
  NodeInfo next = self;
  next.draining = draining;
  std::string what = "renewal of node " + self.id;
  std::uint64_t incarnation = self.incarnation;
  std::vector<std::string> args{
      "2",     key("lease:", self.id),      key("nodes", ""),        "renew",
      self.id, std::to_string(incarnation), std::to_string(ttl_ms_), detail::lease_tail(next)};
  run(what, std::move(args),
      [this, what, id = self.id, incarnation, draining,
       done = std::move(done)](StoreResult<RedisReply> r) {
        if (!r) return done(unexpected(r.error()));
        auto* e = tagged(*r);
        if (!e) return done(unexpected(unexpected_reply(what)));
        const std::string& tag = (*e)[0].str;
        if (tag == "ok") {
          if (self_ && self_->incarnation == incarnation) self_->draining = draining;
          return done({});
        }
        if (tag == "lost" && e->size() == 2) {
          return done(unexpected(lease_lost(what, id, incarnation, (*e)[1].str)));
        }
        if (tag == "corrupt" && e->size() == 2) {
          return done(unexpected(corrupt(what, "lease record", (*e)[1].str)));
        }
        done(unexpected(unexpected_reply(what)));
      });
}

void RedisDirectory::leave(StoreCallback<void> done) {
  const NodeInfo& self = joined("leave");
  std::string what = "leave of node " + self.id;
  std::vector<std::string> args{"2",     key("lease:", self.id),          key("nodes", ""), "leave",
                                self.id, std::to_string(self.incarnation)};
  run(what, std::move(args), [done = std::move(done)](StoreResult<RedisReply> r) {
    if (!r) return done(unexpected(r.error()));
    done({});
  });
}

void RedisDirectory::nodes(StoreCallback<std::vector<NodeInfo>> done) {
  ensure_open("nodes");
  std::string what = "listing the cluster's nodes";
  run(what, {"1", key("nodes", ""), "nodes", key("lease:", "")},
      [this, what, done = std::move(done)](StoreResult<RedisReply> r) {
        if (!r) return done(unexpected(r.error()));
        if (r->type != RedisReply::Type::array || r->elements.size() % 2 != 0) {
          return done(unexpected(unexpected_reply(what)));
        }
        std::vector<NodeInfo> live;
        for (std::size_t i = 0; i < r->elements.size(); i += 2) {
          const auto& id = r->elements[i];
          const auto& record = r->elements[i + 1];
          if (!is_string(id) || !is_string(record)) {
            return done(unexpected(unexpected_reply(what)));
          }
          auto node = detail::parse_lease(id.str, record.str);
          if (!node || node_id_error(id.str)) {
            return done(unexpected(
                corrupt(what, "lease record of node '" + printable_key(id.str) + "'", record.str)));
          }
          live.push_back(std::move(*node));
        }
        done(std::move(live));
      });
}

// ---- ownership --------------------------------------------------------------

void RedisDirectory::claim(std::string name, StoreCallback<ClaimResult> done) {
  const NodeInfo& self = joined("claim");
  std::string what = "claim of name '" + printable_key(name) + "'";
  if (auto e = name_error(name)) return reject(std::move(done), about(*e, "claim"));
  std::uint64_t incarnation = self.incarnation;
  std::vector<std::string> args{
      "3",     key("lease:", self.id),      key("owner:", name), key("fence:", name), "claim",
      self.id, std::to_string(incarnation), key("lease:", "")};
  run(what, std::move(args),
      [this, what, id = self.id, incarnation,
       done = std::move(done)](StoreResult<RedisReply> r) mutable {
        if (!r) return done(unexpected(r.error()));
        auto* e = tagged(*r);
        if (!e) return done(unexpected(unexpected_reply(what)));
        const std::string& tag = (*e)[0].str;
        if (tag == "mine" || tag == "owned") {
          auto owner = owner_of(*e);
          if (!owner) return done(unexpected(unexpected_reply(what)));
          ClaimResult result{tag == "mine", std::move(*owner)};
          if (result.mine && options_.wait_replicas > 0) {
            return wait_replicated(what, std::move(result), std::move(done));
          }
          return done(std::move(result));
        }
        if (tag == "lost" && e->size() == 2) {
          return done(unexpected(lease_lost(what, id, incarnation, (*e)[1].str)));
        }
        if (tag == "corrupt" && e->size() == 3) {
          return done(unexpected(corrupt(what, (*e)[1].str, (*e)[2].str)));
        }
        done(unexpected(unexpected_reply(what)));
      });
}

void RedisDirectory::wait_replicated(std::string what, ClaimResult claimed,
                                     StoreCallback<ClaimResult> done) {
  if (closing_) {
    return done(unexpected(StoreError{
        StoreErrc::closed,
        what + ": the directory was closed before the claim's replication was checked"}));
  }
  auto wanted = options_.wait_replicas;
  auto timeout = options_.wait_timeout.count();
  redis_->command(
      {"WAIT", std::to_string(wanted), std::to_string(timeout)},
      [this, what = std::move(what), claimed = std::move(claimed), wanted, timeout,
       done = std::move(done)](StoreResult<RedisReply> r) mutable {
        if (!r) return done(unexpected(about(r.error(), what)));
        if (r->type != RedisReply::Type::integer) {
          return done(unexpected(StoreError{
              StoreErrc::io_error,
              what + ": WAIT failed at Redis at " + redis_->endpoint().display() + ": " + r->str}));
        }
        if (r->integer < static_cast<std::int64_t>(wanted)) {
          return done(unexpected(StoreError{
              StoreErrc::unavailable,
              what + " (fence " + std::to_string(claimed.owner.fence) +
                  "): claim not replicated: " + std::to_string(r->integer) + " of " +
                  std::to_string(wanted) + " replicas acknowledged it within " +
                  std::to_string(timeout) + " ms at Redis at " + redis_->endpoint().display() +
                  "; do not serve the name on it (a failover could hand its fence out again)"}));
        }
        done(std::move(claimed));
      });
}

void RedisDirectory::lookup(std::string name, StoreCallback<std::optional<Owner>> done) {
  ensure_open("lookup");
  std::string what = "lookup of name '" + printable_key(name) + "'";
  if (auto e = name_error(name)) return reject(std::move(done), about(*e, "lookup"));
  run(what, {"1", key("owner:", name), "lookup", key("lease:", "")},
      [this, what, done = std::move(done)](StoreResult<RedisReply> r) {
        if (!r) return done(unexpected(r.error()));
        auto* e = tagged(*r);
        if (!e) return done(unexpected(unexpected_reply(what)));
        const std::string& tag = (*e)[0].str;
        if (tag == "none" && e->size() == 1) return done(std::optional<Owner>());
        if (tag == "owned") {
          auto owner = owner_of(*e);
          if (!owner) return done(unexpected(unexpected_reply(what)));
          return done(std::optional<Owner>(std::move(*owner)));
        }
        if (tag == "corrupt" && e->size() == 3) {
          return done(unexpected(corrupt(what, (*e)[1].str, (*e)[2].str)));
        }
        done(unexpected(unexpected_reply(what)));
      });
}

void RedisDirectory::release(std::string name, std::uint64_t fence, StoreCallback<bool> done) {
  const NodeInfo& self = joined("release");
  std::string what = "release of name '" + printable_key(name) + "'";
  if (auto e = name_error(name)) return reject(std::move(done), about(*e, "release"));
  run(what,
      {"1", key("owner:", name), "release",
       detail::owner_record({self.id, self.incarnation, fence})},
      [this, what, done = std::move(done)](StoreResult<RedisReply> r) {
        if (!r) return done(unexpected(r.error()));
        if (r->type != RedisReply::Type::integer) return done(unexpected(unexpected_reply(what)));
        done(r->integer == 1);
      });
}

void RedisDirectory::close(std::function<void()> done) {
  if (closing_) throw std::logic_error("RedisDirectory::close called twice");
  closing_ = true;
  redis_->close([this, done = std::move(done)]() mutable { deferred_.close(std::move(done)); });
}

}  // namespace troupe::cluster
