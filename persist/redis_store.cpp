#include "persist/redis_store.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "persist/detail/batch_plan.hpp"
#include "persist/detail/page.hpp"
#include "persist/detail/redis_scripts.hpp"
#include "persist/detail/redis_uv_adapter.hpp"
#include "persist/detail/validate.hpp"

namespace troupe {

// One command. Script commands keep their arguments without the script
// reference, which is only known once the connection's handshake loaded it.
struct RedisStore::Request {
  enum class Kind { plain, apply, list };
  RedisStore* store = nullptr;
  Kind kind = Kind::plain;
  std::vector<std::string> args;
  ReplyHandler handler;
  bool eval_fallback = false;  // NOSCRIPT seen: send the script's text
  bool raw = false;            // command(): an error reply goes to the handler as is
};

namespace {

// Largest compare_and_put_many chunk sent as one script run: keeps one run's
// latency (and so every other client's wait) in the low milliseconds.
constexpr std::size_t cas_chunk = 1000;
// Largest list page on Redis; a page may hold fewer items than asked for.
constexpr std::size_t max_page = 1000;

Revision parse_revision(const redisReply* r) {
  if (!r) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<Revision>(r->integer);
  if (r->type != REDIS_REPLY_STRING) return 0;
  Revision v = 0;
  std::from_chars(r->str, r->str + r->len, v);
  return v;
}

std::string as_string(const redisReply* r) {
  return std::string(r->str, r->len);
}

// {applied, ok1, n1, ok2, n2, ...} from apply_script.
struct OpOutcome {
  bool first = false;       // ok == 1
  std::int64_t second = 0;  // n, when an integer
  std::int64_t status = 0;  // ok itself (a fence's is 1, 0 or -1)
  std::string text;         // n, when a string (a fence's stored token)
};
struct Applied {
  bool applied = false;
  std::vector<OpOutcome> ops;
};

std::optional<Applied> parse_applied(const redisReply* r, std::size_t n) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 + 2 * n) return std::nullopt;
  Applied a;
  a.applied = r->element[0]->integer == 1;
  for (std::size_t i = 0; i < n; ++i) {
    const redisReply* ok = r->element[1 + 2 * i];
    const redisReply* value = r->element[2 + 2 * i];
    OpOutcome o;
    o.status = ok->integer;
    o.first = ok->integer == 1;
    if (value->type == REDIS_REPLY_STRING) {
      o.text = as_string(value);
    } else {
      o.second = value->integer;
    }
    a.ops.push_back(std::move(o));
  }
  return a;
}

// The smallest string greater than every string starting with prefix, as a
// ZRANGEBYLEX bound.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return "+";
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return "(" + prefix;
}

}  // namespace

const char* to_string(RedisState state) {
  switch (state) {
    case RedisState::idle:
      return "idle";
    case RedisState::connecting:
      return "connecting";
    case RedisState::ready:
      return "ready";
    case RedisState::down:
      return "down";
    case RedisState::closed:
      return "closed";
  }
  return "unknown";
}

StoreResult<std::unique_ptr<RedisStore>> RedisStore::create(uv_loop_t* loop,
                                                            RedisStoreOptions options) {
  auto endpoint = parse_redis_url(options.url);
  if (!endpoint) return unexpected(endpoint.error());
  return std::unique_ptr<RedisStore>(
      new RedisStore(loop, std::move(options), std::move(endpoint.value())));
}

RedisStore::RedisStore(uv_loop_t* loop, RedisStoreOptions options, RedisEndpoint endpoint)
    : loop_(loop),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      reconnects_(Backoff{.base = options_.backoff_initial, .cap = options_.backoff_max}),
      connect_timer_(loop),
      reconnect_timer_(loop),
      watchdog_(loop),
      deferred_(loop) {}

RedisStore::~RedisStore() {
  // Normally closed already; otherwise fail what is left rather than leak it.
  closing_ = true;
  if (ctx_) {
    auto* ac = ctx_;
    ctx_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  for (Request* r : waiting_) delete r;
}

void RedisStore::on_state_change(std::function<void(RedisState, const StoreError*)> listener) {
  listener_ = std::move(listener);
}

void RedisStore::set_state(RedisState state, const StoreError* error) {
  state_ = state;
  if (listener_) listener_(state, error);
}

StoreError RedisStore::unavailable_error() const {
  return {StoreErrc::unavailable, "Redis at " + endpoint_.display() +
                                      " is unavailable: " + last_cause_ + " (reconnecting)"};
}

// ---- connection -------------------------------------------------------------

void RedisStore::connect(StoreCallback<void> done) {
  if (state_ != RedisState::idle) throw std::logic_error("RedisStore::connect called twice");
  on_first_attempt_ = std::move(done);
  state_ = RedisState::connecting;
  auto period = std::max<std::int64_t>(10, options_.command_timeout.count() / 4);
  watchdog_.start(
      static_cast<std::uint64_t>(period), [this] { check_timeouts(); },
      static_cast<std::uint64_t>(period));
  // Deferred so that a failure known at once still reports after connect().
  deferred_.post([this] { start_attempt(); });
}

void RedisStore::start_attempt() {
  if (closing_) return;
  set_state(RedisState::connecting);
  redisAsyncContext* ac = endpoint_.transport == RedisEndpoint::Transport::tcp
                              ? redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port)
                              : redisAsyncConnectUnix(endpoint_.path.c_str());
  if (!ac) return connection_lost(nullptr, "out of memory");
  if (ac->err) {
    std::string cause = ac->errstr;
    redisAsyncFree(ac);
    return connection_lost(nullptr, cause);
  }
  if (detail::redis_attach_uv(ac, loop_) != REDIS_OK) {
    redisAsyncFree(ac);
    return connection_lost(nullptr, "cannot watch the socket on the uv loop");
  }
  ac->data = this;
  ctx_ = ac;
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    if (auto* self = static_cast<RedisStore*>(c->data)) {
      self->on_connected(const_cast<redisAsyncContext*>(c), status);
    }
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
    if (auto* self = static_cast<RedisStore*>(c->data)) {
      self->connection_lost(const_cast<redisAsyncContext*>(c),
                            c->err ? c->errstr : "the connection was closed");
    }
  });
  auto timeout = options_.connect_timeout;
  connect_timer_.start(static_cast<std::uint64_t>(timeout.count()), [this, timeout] {
    drop("no connection within " + std::to_string(timeout.count()) + " ms");
  });
}

void RedisStore::on_connected(redisAsyncContext* ac, int status) {
  if (ac != ctx_) return;
  // hiredis frees the context after this callback; forget it first.
  if (status != REDIS_OK) return connection_lost(ac, ac->errstr);
  send_handshake();
}

void RedisStore::send_handshake() {
  std::vector<std::vector<std::string>> commands;
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) {
      commands.push_back({"AUTH", endpoint_.password});
    } else {
      commands.push_back({"AUTH", endpoint_.user, endpoint_.password});
    }
  }
  if (endpoint_.db != 0) commands.push_back({"SELECT", std::to_string(endpoint_.db)});
  commands.push_back({"SCRIPT", "LOAD", std::string(detail::apply_script)});
  commands.push_back({"SCRIPT", "LOAD", std::string(detail::list_script)});
  auto remaining = std::make_shared<std::size_t>(commands.size());
  redisAsyncContext* ac = ctx_;
  for (auto& command : commands) {
    std::string name = command[0] == "SCRIPT" ? "SCRIPT LOAD" : command[0];
    bool is_apply = command.size() == 3 && command[2] == detail::apply_script;
    auto* r = new Request{this, Request::Kind::plain, std::move(command), nullptr, false};
    r->handler = [this, ac, remaining, name, is_apply](StoreResult<const redisReply*> reply) {
      if (ac != ctx_) return;  // this connection failed already
      if (!reply) return drop("the handshake failed: " + reply.error().message);
      const redisReply* rep = *reply;
      if (name == "SCRIPT LOAD") (is_apply ? apply_sha_ : list_sha_) = as_string(rep);
      if (--*remaining == 0) become_ready();
    };
    issue(r);
  }
}

void RedisStore::become_ready() {
  connect_timer_.stop();
  reconnects_.reset();
  last_cause_.clear();
  handshake_done_ = true;
  set_state(RedisState::ready);
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (Request* r : waiting) issue(r);
  if (on_first_attempt_) std::exchange(on_first_attempt_, nullptr)({});
}

void RedisStore::drop(std::string cause) {
  redisAsyncContext* ac = ctx_;
  if (!ac) return;
  drop_cause_ = std::move(cause);
  bool connected = (ac->c.flags & REDIS_CONNECTED) != 0;
  // Fails every command in flight, then (if connected) calls the disconnect
  // callback, which ends in connection_lost. Inside a hiredis callback the
  // free is deferred until that callback returns.
  redisAsyncFree(ac);
  if (!connected) connection_lost(ac, drop_cause_);
}

void RedisStore::connection_lost(redisAsyncContext* ac, std::string cause) {
  if (ac != ctx_) return;  // reported already
  if (!drop_cause_.empty()) cause = std::exchange(drop_cause_, {});
  ctx_ = nullptr;
  handshake_done_ = false;
  in_flight_.clear();
  connect_timer_.stop();
  if (closing_) return finish_close();
  last_cause_ = std::move(cause);
  StoreError error = unavailable_error();
  set_state(RedisState::down, &error);
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (Request* r : waiting) {
    r->handler(unexpected(error));
    delete r;
  }
  if (on_first_attempt_) std::exchange(on_first_attempt_, nullptr)(unexpected(error));
  if (closing_) return;  // a callback above closed the store
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(reconnects_.next());
  reconnect_timer_.start(static_cast<std::uint64_t>(delay.count()), [this] { start_attempt(); });
}

void RedisStore::check_timeouts() {
  if (!ctx_ || in_flight_.empty()) return;
  auto waited = std::chrono::steady_clock::now() - in_flight_.front();
  if (waited > options_.command_timeout) {
    drop("no reply within " + std::to_string(options_.command_timeout.count()) + " ms");
  }
}

void RedisStore::close(std::function<void()> done) {
  if (closing_) throw std::logic_error("RedisStore::close called twice");
  closing_ = true;
  on_closed_ = std::move(done);
  reconnect_timer_.stop();
  StoreError closed{StoreErrc::closed, "the RedisStore for " + endpoint_.display() + " was closed"};
  for (Request* r : std::exchange(waiting_, {})) {
    deferred_.post([r, closed] {
      r->handler(unexpected(closed));
      delete r;
    });
  }
  if (!ctx_) return finish_close();
  if (handshake_done_) {
    // Graceful: replies to commands in flight still arrive, then the
    // disconnect callback finishes the close. The watchdog bounds the wait.
    redisAsyncDisconnect(ctx_);
  } else {
    drop("the store was closed");
  }
}

void RedisStore::finish_close() {
  if (state_ == RedisState::closed) return;
  set_state(RedisState::closed);
  connect_timer_.close();
  reconnect_timer_.close();
  watchdog_.close();
  deferred_.close(std::move(on_closed_));
}

// ---- commands ---------------------------------------------------------------

void RedisStore::ensure_usable() const {
  if (state_ == RedisState::idle) throw std::logic_error("RedisStore: call connect() first");
  if (closing_) throw std::logic_error("RedisStore: operation issued after close()");
}

template <class T>
void RedisStore::reject(StoreCallback<T> done, StoreError error) {
  deferred_.post([done = std::move(done), e = std::move(error)] { done(unexpected(e)); });
}

void RedisStore::dispatch(Request* r) {
  if (state_ == RedisState::ready && ctx_) return issue(r);
  if (state_ == RedisState::connecting) return waiting_.push_back(r);
  deferred_.post([r, e = unavailable_error()] {
    r->handler(unexpected(e));
    delete r;
  });
}

void RedisStore::send(std::vector<std::string> args, ReplyHandler handler) {
  dispatch(new Request{this, Request::Kind::plain, std::move(args), std::move(handler), false});
}

void RedisStore::run_script(bool apply, std::vector<std::string> args, ReplyHandler handler) {
  auto kind = apply ? Request::Kind::apply : Request::Kind::list;
  dispatch(new Request{this, kind, std::move(args), std::move(handler), false});
}

void RedisStore::issue(Request* r) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  std::string script;
  if (r->kind != Request::Kind::plain) {
    bool apply = r->kind == Request::Kind::apply;
    argv.push_back(r->eval_fallback ? "EVAL" : "EVALSHA");
    lens.push_back(r->eval_fallback ? 4 : 7);
    script = r->eval_fallback ? std::string(apply ? detail::apply_script : detail::list_script)
                              : (apply ? apply_sha_ : list_sha_);
    argv.push_back(script.data());
    lens.push_back(script.size());
  }
  for (const auto& a : r->args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAsyncCommandArgv(ctx_, on_reply, r, static_cast<int>(argv.size()), argv.data(),
                            lens.data()) != REDIS_OK) {
    // The context is already going away; its disconnect will follow.
    deferred_.post([r, e = unavailable_error()] {
      r->handler(unexpected(e));
      delete r;
    });
    return;
  }
  in_flight_.push_back(std::chrono::steady_clock::now());
}

void RedisStore::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* r = static_cast<Request*>(privdata);
  r->store->handle_reply(r, ac, static_cast<const redisReply*>(reply));
}

void RedisStore::handle_reply(Request* r, redisAsyncContext* ac, const redisReply* reply) {
  if (!in_flight_.empty() && ac == ctx_) in_flight_.pop_front();
  if (!reply) {
    std::string cause = ac->err                ? ac->errstr
                        : !drop_cause_.empty() ? drop_cause_
                        : closing_             ? "the store was closed"
                                               : "the connection was closed";
    r->handler(unexpected(StoreError{
        closing_ && !ac->err ? StoreErrc::closed : StoreErrc::unavailable,
        "connection to Redis at " + endpoint_.display() + " lost with a command in flight (" +
            cause + "); it may or may not have been applied"}));
    delete r;
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR && !r->raw) {
    std::string_view text(reply->str, reply->len);
    if (text.starts_with("NOSCRIPT") && r->kind != Request::Kind::plain && !r->eval_fallback) {
      r->eval_fallback = true;
      issue(r);
      return;
    }
    std::string what = r->kind == Request::Kind::plain ? r->args[0] : "a script";
    r->handler(
        unexpected(StoreError{StoreErrc::io_error, "Redis at " + endpoint_.display() + " failed " +
                                                       what + ": " + std::string(text)}));
    delete r;
    return;
  }
  r->handler(reply);
  delete r;
}

// ---- operations -------------------------------------------------------------

namespace {

StoreError about_key(StoreError e, std::string_view op, std::string_view key) {
  e.message = std::string(op) + " of key '" + detail::printable_key(key) + "': " + e.message;
  return e;
}

StoreError unexpected_reply(const RedisEndpoint& ep, std::string_view op) {
  return {StoreErrc::io_error,
          "Redis at " + ep.display() + " gave an unexpected reply to " + std::string(op)};
}

}  // namespace

void RedisStore::apply(std::string mode, const std::vector<WriteOp>& ops, ReplyHandler handler) {
  std::vector<std::string> args;
  args.reserve(3 + 5 * ops.size());
  args.push_back(std::to_string(1 + 2 * ops.size()));
  args.push_back(options_.key_prefix + "index");
  for (const auto& op : ops) {
    args.push_back(vkey(op.key));
    args.push_back(rkey(op.key));
  }
  args.push_back(std::move(mode));
  args.push_back(std::to_string(options_.key_prefix.size() + 2));
  for (const auto& op : ops) {
    switch (op.kind) {
      case WriteOp::Kind::del:
        args.push_back("d");
        args.push_back({});
        break;
      case WriteOp::Kind::fence:
        args.push_back("f");
        args.push_back(std::to_string(op.token));
        break;
      case WriteOp::Kind::put:
        args.push_back(op.revision ? "c" : "p");
        args.push_back(op.value);
        break;
    }
    args.push_back(op.kind == WriteOp::Kind::put && op.revision ? std::to_string(*op.revision)
                                                                : "");
  }
  run_script(true, std::move(args), std::move(handler));
}

void RedisStore::get(std::string key, StoreCallback<std::optional<Entry>> done) {
  ensure_usable();
  if (auto e = detail::check_key(key)) return reject(std::move(done), std::move(*e));
  send({"MGET", vkey(key), rkey(key)}, [this, key,
                                        done = std::move(done)](StoreResult<const redisReply*> r) {
    if (!r) return done(unexpected(about_key(r.error(), "get", key)));
    const redisReply* rep = *r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
      return done(unexpected(unexpected_reply(endpoint_, "MGET")));
    }
    if (rep->element[0]->type != REDIS_REPLY_STRING) return done(std::optional<Entry>());
    done(std::optional<Entry>(Entry{as_string(rep->element[0]), parse_revision(rep->element[1])}));
  });
}

void RedisStore::put(std::string key, std::string value, StoreCallback<Revision> done) {
  ensure_usable();
  if (auto e = detail::check_key(key)) return reject(std::move(done), std::move(*e));
  apply("all", {WriteOp::put(key, std::move(value))},
        [this, key, done = std::move(done)](StoreResult<const redisReply*> r) {
          if (!r) return done(unexpected(about_key(r.error(), "put", key)));
          auto a = parse_applied(*r, 1);
          if (!a) return done(unexpected(unexpected_reply(endpoint_, "put")));
          done(static_cast<Revision>(a->ops[0].second));
        });
}

void RedisStore::del(std::string key, StoreCallback<bool> done) {
  ensure_usable();
  if (auto e = detail::check_key(key)) return reject(std::move(done), std::move(*e));
  apply("all", {WriteOp::del(key)},
        [this, key, done = std::move(done)](StoreResult<const redisReply*> r) {
          if (!r) return done(unexpected(about_key(r.error(), "del", key)));
          auto a = parse_applied(*r, 1);
          if (!a) return done(unexpected(unexpected_reply(endpoint_, "del")));
          done(a->ops[0].second == 1);
        });
}

void RedisStore::list(std::string prefix, ListOptions options, StoreCallback<Page> done) {
  ensure_usable();
  if (options.limit == 0) {
    return reject(std::move(done),
                  StoreError{StoreErrc::invalid_argument, "list limit must be at least 1"});
  }
  std::size_t limit = std::min(options.limit, max_page);
  bool after_cursor = !options.cursor.empty() && options.cursor >= prefix;
  std::string min = after_cursor ? "(" + options.cursor : "[" + prefix;
  run_script(false,
             {"1", options_.key_prefix + "index", std::move(min), prefix_end(prefix),
              std::to_string(limit + 1), vkey(""), rkey("")},
             [this, prefix, limit, done = std::move(done)](StoreResult<const redisReply*> r) {
               if (!r) return done(unexpected(r.error()));
               const redisReply* rep = *r;
               if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 3 != 0) {
                 return done(unexpected(unexpected_reply(endpoint_, "list")));
               }
               detail::PageBuilder page(prefix, limit);
               for (std::size_t i = 0; i < rep->elements; i += 3) {
                 std::string key = as_string(rep->element[i]);
                 if (!page.wants(key)) break;
                 page.add(Item{std::move(key), as_string(rep->element[i + 1]),
                               parse_revision(rep->element[i + 2])});
               }
               done(std::move(page).finish());
             });
}

void RedisStore::batch(std::vector<WriteOp> ops, StoreCallback<void> done) {
  ensure_usable();
  if (auto e = detail::check_batch(ops)) return reject(std::move(done), std::move(*e));
  if (ops.empty()) return deferred_.post([done = std::move(done)] { done({}); });
  auto handler = [this, ops, done = std::move(done)](StoreResult<const redisReply*> r) {
    if (!r) return done(unexpected(r.error()));
    auto a = parse_applied(*r, ops.size());
    if (!a) return done(unexpected(unexpected_reply(endpoint_, "batch")));
    if (a->applied) return done({});
    // A refused fence decides the answer (as in detail::resolve_fences).
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind != WriteOp::Kind::fence || a->ops[i].first) continue;
      if (a->ops[i].status != 0)
        return done(unexpected(detail::corrupt_fence(ops[i].key, a->ops[i].text)));
      auto stored = detail::parse_fence_token(a->ops[i].text);
      if (!stored) return done(unexpected(unexpected_reply(endpoint_, "batch")));
      return done(unexpected(fenced_error(ops[i].key, *stored, ops[i].token)));
    }
    std::vector<std::string> conflicts;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!a->ops[i].first) {
        conflicts.push_back(conflict_message(ops[i].key, *ops[i].revision,
                                             static_cast<Revision>(a->ops[i].second)));
      }
    }
    done(unexpected(detail::batch_conflict(conflicts)));
  };
  apply("all", ops, std::move(handler));
}

void RedisStore::compare_and_put(std::string key, std::string value, Revision revision,
                                 StoreCallback<void> done) {
  ensure_usable();
  std::vector<WriteOp> ops{WriteOp::put_at(key, std::move(value), revision)};
  if (auto e = detail::check_batch(ops)) return reject(std::move(done), std::move(*e));
  apply(
      "each", ops, [this, key, revision, done = std::move(done)](StoreResult<const redisReply*> r) {
        if (!r) return done(unexpected(about_key(r.error(), "compare-and-put", key)));
        auto a = parse_applied(*r, 1);
        if (!a) return done(unexpected(unexpected_reply(endpoint_, "compare-and-put")));
        if (a->ops[0].first) return done({});
        done(unexpected(
            StoreError{StoreErrc::conflict,
                       conflict_message(key, revision, static_cast<Revision>(a->ops[0].second))}));
      });
}

void RedisStore::compare_and_put_many(std::vector<CasWrite> writes,
                                      StoreCallback<std::vector<CasOutcome>> done) {
  ensure_usable();
  if (auto e = detail::check_cas_many(writes)) return reject(std::move(done), std::move(*e));
  if (writes.empty()) {
    return deferred_.post([done = std::move(done)] { done(std::vector<CasOutcome>()); });
  }
  struct Gather {
    std::vector<CasOutcome> outcomes;
    std::size_t pending = 0;
    std::optional<StoreError> error;
    StoreCallback<std::vector<CasOutcome>> done;
  };
  auto g = std::make_shared<Gather>();
  g->outcomes.resize(writes.size());
  g->done = std::move(done);
  g->pending = (writes.size() + cas_chunk - 1) / cas_chunk;
  for (std::size_t first = 0; first < writes.size(); first += cas_chunk) {
    std::size_t n = std::min(cas_chunk, writes.size() - first);
    std::vector<WriteOp> ops;
    ops.reserve(n);
    for (std::size_t i = first; i < first + n; ++i) {
      ops.push_back(WriteOp::put_at(std::move(writes[i].key), std::move(writes[i].value),
                                    writes[i].revision));
    }
    apply("each", ops, [this, g, first, n](StoreResult<const redisReply*> r) {
      if (!r) {
        if (!g->error) g->error = r.error();
      } else if (auto a = parse_applied(*r, n)) {
        for (std::size_t i = 0; i < n; ++i) {
          g->outcomes[first + i] = {a->ops[i].first, static_cast<Revision>(a->ops[i].second)};
        }
      } else if (!g->error) {
        g->error = unexpected_reply(endpoint_, "compare_and_put_many");
      }
      if (--g->pending > 0) return;
      if (g->error) return g->done(unexpected(*g->error));
      g->done(std::move(g->outcomes));
    });
  }
}

// ---- raw commands -----------------------------------------------------------

namespace {

RedisReply copy_reply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::string
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::status
                                                 : RedisReply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

}  // namespace

void RedisStore::command(std::vector<std::string> args, StoreCallback<RedisReply> done) {
  ensure_usable();
  if (args.empty()) {
    return reject(std::move(done),
                  StoreError{StoreErrc::invalid_argument, "a Redis command needs a name"});
  }
  auto* r = new Request{this, Request::Kind::plain, std::move(args), nullptr, false, true};
  r->handler = [done = std::move(done)](StoreResult<const redisReply*> reply) {
    if (!reply) return done(unexpected(reply.error()));
    done(copy_reply(*reply));
  };
  dispatch(r);
}

}  // namespace troupe
