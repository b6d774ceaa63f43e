#include "testing/session_harness.hpp"

#include <sstream>
#include <stdexcept>

#include "net/gateway/detail/route_state.hpp"
#include "net/ws/utf8.hpp"
#include "persist/awaitable_store.hpp"
#include "supervisors/supervisor.hpp"
#include "testing/detail/sim_access.hpp"

namespace troupe {
namespace detail {

// A Gateway without a server (a friend of Gateway): its routes' supervisors,
// alarm keepers and retention run; its connections are a sink's.
struct SocketlessGateway {
  static Gateway::Route& start(Gateway& g, ConnectionSink& sink) {
    for (auto& route : g.routes_) route->sink = &sink;
    g.root_ = start_root(g.rt_, g.supervisor_spec());
    return *g.routes_.front();
  }
  // As stop() does after closing the server: the helpers see the gateway
  // stopping, and the routes' supervisors stop their sessions (on_stop).
  static void begin_stop(Gateway& g) { g.root_state_->stopping = true; }
  static Pid root(const Gateway& g) { return g.root_; }
};

}  // namespace detail

namespace testing {

// --- the harness as the gateway's server ------------------------------------------------------

class SessionHarnessBase::Sink final : public detail::ConnectionSink {
 public:
  explicit Sink(SessionHarnessBase& h) : h_(h) {}

  bool send(ConnectionId id, std::string_view data, MessageKind kind) override {
    Client* c = h_.client_of(id);
    if (!c || !c->open()) return false;
    // As ws::Server::send: a text frame that is not UTF-8 is refused whole.
    if (kind == MessageKind::text && !is_valid_utf8(data)) return false;
    c->frames_.push_back(Frame{std::string(data), kind});
    return true;
  }

  void close(ConnectionId id, std::uint16_t code, std::string_view reason) override {
    Client* c = h_.client_of(id);
    if (!c || !c->open()) return;
    c->state_ = Client::State::closed;
    c->closed_ = CloseInfo{code, std::string(reason.substr(0, 123))};
    // The route hears of it a loop turn later, when the client has answered
    // the close (ws::Server reports the code it sent).
    std::weak_ptr<bool> alive = h_.alive_token_;
    Gateway::Route* route = h_.route_;
    h_.t_.runtime().post(0, [alive, route, id, info = *c->closed_] {
      if (!alive.expired()) route->on_close(id, info.code, info.reason);
    });
  }

 private:
  SessionHarnessBase& h_;
};

// --- the harness --------------------------------------------------------------------------------

namespace {

// "rooms/lobby" -> {"/rooms", "lobby"}
std::pair<std::string, std::string> split_session(const std::string& session) {
  const auto slash = session.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == session.size())
    throw std::invalid_argument("SessionHarness: the session is \"<route>/<name>\", not \"" +
                                session + "\"");
  return {"/" + session.substr(0, slash), session.substr(slash + 1)};
}

// For a failure: what the test may have missed ("; a timer is set, the
// next due in 50 ms: does it need t.advance()?"), or nothing if none is.
std::string timer_hint(TestRuntime& t) {
  auto next = detail::SimAccess::scheduler(t.runtime()).next_deadline();
  if (!next) return {};
  const auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.now().time_since_epoch()).count();
  const double ms = static_cast<double>(*next - now) / 1e6;
  std::ostringstream os;
  os << "; a timer is set, the next due in " << ms << " ms: does it need t.advance()?";
  return os.str();
}

}  // namespace

SessionHarnessBase::SessionHarnessBase(TestRuntime& t, std::string session, SessionFactory factory,
                                       SessionHarnessOptions options)
    : t_(t), full_name_(std::move(session)) {
  std::tie(prefix_, name_) = split_session(full_name_);
  persistence_ = options.persistence;
  if (!persistence_ && options.store) {
    client_ = std::make_unique<AwaitableStore>(t.runtime(), 0, *options.store);
    own_persistence_ = std::make_unique<Persistence>(*client_, options.persistence_options);
    persistence_ = own_persistence_.get();
  }
  sink_ = std::make_unique<Sink>(*this);
  // The connections' loop is the runtime's one scheduler.
  gateway_ = std::make_unique<Gateway>(t.runtime(),
                                       GatewayOptions{.io_schedulers = 0,
                                                      .persistence = persistence_,
                                                      .retention = options.retention,
                                                      .retention_sweep = options.retention_sweep});
  gateway_->add_route(prefix_, std::move(factory), std::move(options.route));
  route_ = &detail::SocketlessGateway::start(*gateway_, *sink_);
}

SessionHarnessBase::~SessionHarnessBase() {
  try {
    // As Gateway::stop: the connections close with 1001, then the routes'
    // supervisors stop the sessions (on_stop, state flushed).
    detail::SocketlessGateway::begin_stop(*gateway_);
    for (auto& c : clients_)
      if (c->open()) c->disconnect(close_code::going_away, "test ended");
    t_.run();
    t_.runtime().exit(detail::SocketlessGateway::root(*gateway_), troupe::shutdown);
    t_.run();
    // Helpers of the route (an alarm's wake-up waiting out a refusal) end
    // at their next wake-up, seeing the gateway stopping.
    for (int i = 0; i < 1000 && route_->helpers > 0; ++i)
      if (!t_.advance_to_next_timer()) break;
  } catch (...) {
    // A failure while winding down: the test has failed already, or will
    // by what it checks; the runtime ends what is left.
  }
  alive_token_.reset();
}

std::string SessionHarnessBase::full_name_of(std::string_view name) const {
  if (name.empty()) return full_name_;
  return prefix_.substr(1) + "/" + std::string(name);
}

Client& SessionHarnessBase::connect(ClientOptions options) {
  const std::string name = options.name.empty() ? name_ : options.name;
  // Connection ids as the server makes them: the loop (0) in the low byte.
  const ConnectionId id{next_connection_++ << 8};
  clients_.push_back(std::unique_ptr<Client>(new Client(*this, id, full_name_of(name))));
  Client& c = *clients_.back();
  HttpRequest request{.path = prefix_ + "/" + name,
                      .route = prefix_,
                      .name = name,
                      .query = std::move(options.query),
                      .headers = std::move(options.headers),
                      .cookies = std::move(options.cookies),
                      .peer = std::move(options.peer),
                      .loop = 0};
  Admission admission = route_->authorize(request);
  if (!admission.admitted()) {
    c.state_ = Client::State::refused;
    c.refused_ = std::move(admission);
    return c;
  }
  route_->on_open(id, request);
  return c;
}

std::vector<Client*> SessionHarnessBase::clients() {
  std::vector<Client*> out;
  for (auto& c : clients_) out.push_back(c.get());
  return out;
}

Client* SessionHarnessBase::client_of(ConnectionId id) {
  // Ids count up from 1: the index is the id's upper bits.
  const std::uint64_t n = id.value >> 8;
  if (n == 0 || n > clients_.size()) return nullptr;
  return clients_[n - 1].get();
}

Pid SessionHarnessBase::pid(std::string_view name) const {
  Pid p = t_.runtime().registry().whereis(full_name_of(name));
  return p && t_.runtime().alive(p) ? p : Pid{};
}

Pid SessionHarnessBase::expect_alive(std::string_view name) {
  for (;;) {
    if (Pid p = pid(name)) return p;
    if (!t_.step())
      t_.fail("SessionHarness: expected " + full_name_of(name) + " to run" + timer_hint(t_));
  }
}

void SessionHarnessBase::run_until(const std::function<bool()>& done, std::string_view what) {
  while (!done())
    if (!t_.step() && !done())
      t_.fail("SessionHarness: run_until: the runtime ran out of work before " + std::string(what) +
              timer_hint(t_));
}

void SessionHarnessBase::crash(std::string reason, std::string_view name) {
  const Pid p = pid(name);
  if (!p) t_.fail("SessionHarness: crash: " + full_name_of(name) + " is not running");
  t_.runtime().exit(p, ExitReason::error(std::move(reason)));
  while (t_.runtime().alive(p))
    if (!t_.step())
      t_.fail("SessionHarness: crash: " + full_name_of(name) + " did not end (stuck waiting?)");
}

namespace {

// A store's answer, shared with its callback (which may come after a
// failed wait has thrown).
template <class T>
struct Answer {
  std::optional<StoreResult<T>> result;
};

// Steps `t` until the store has answered.
template <class T>
StoreResult<T> await_store(TestRuntime& t, const std::shared_ptr<Answer<T>>& a, const char* what) {
  // A step that finds no process ready runs the loop, where the answer
  // comes: it may report that nothing ran although the answer came.
  while (!a->result)
    if (!t.step() && !a->result)
      t.fail(std::string("SessionHarness: the store did not answer ") + what);
  if (!a->result->ok())
    t.fail(std::string("SessionHarness: ") + what + ": " + to_string(a->result->error()));
  return std::move(*a->result);
}

}  // namespace

std::vector<std::string> SessionHarnessBase::stored_keys(std::string_view prefix) {
  if (!persistence_) t_.fail("SessionHarness: stored_keys without a store");
  Store& store = persistence_->store().store();
  std::vector<std::string> keys;
  ListOptions page;
  for (;;) {
    auto answer = std::make_shared<Answer<Page>>();
    store.list(std::string(prefix), page,
               [answer](StoreResult<Page> r) { answer->result = std::move(r); });
    Page got = await_store(t_, answer, "stored_keys").value();
    for (auto& item : got.items) keys.push_back(std::move(item.key));
    if (got.next_cursor.empty()) return keys;
    page.cursor = std::move(got.next_cursor);
  }
}

std::optional<std::string> SessionHarnessBase::stored_value(std::string_view key) {
  if (!persistence_) t_.fail("SessionHarness: stored_value without a store");
  auto answer = std::make_shared<Answer<std::optional<Entry>>>();
  persistence_->store().store().get(
      std::string(key),
      [answer](StoreResult<std::optional<Entry>> r) { answer->result = std::move(r); });
  std::optional<Entry> got = await_store(t_, answer, "stored_value").value();
  if (!got) return std::nullopt;
  return std::move(got->value);
}

// --- the client ---------------------------------------------------------------------------------

void Client::require_open(const char* what) const {
  if (state_ != State::open)
    h_->t_.fail(std::string("SessionHarness: ") + what + " on a client of " + session_ +
                " that is not open");
}

void Client::send(std::string_view data, MessageKind kind) {
  require_open("send");
  h_->route_->on_message(id_, data, kind);
}

void Client::disconnect(std::uint16_t code, std::string_view reason) {
  require_open("disconnect");
  state_ = State::disconnected;
  h_->route_->on_close(id_, code, reason);
}

std::string Client::next_frame() {
  while (unread() == 0) {
    if (!h_->t_.step())
      h_->t_.fail("SessionHarness: expected a frame from " + session_ + " on connection " +
                  std::to_string(id_.value >> 8) + ", nothing came (" +
                  std::to_string(frames_.size()) + " read before)" + timer_hint(h_->t_));
  }
  return frames_[read_++].data;
}

std::string Client::expect_frame(std::string_view text) {
  std::string frame = next_frame();
  if (frame.find(text) == std::string::npos)
    fail_frame("a frame containing \"" + std::string(text) + "\"", frame);
  return frame;
}

void Client::fail_frame(const std::string& want, const std::string& got) const {
  h_->t_.fail("SessionHarness: expected " + want + " from " + session_ + ", got \"" + got + "\"");
}

void Client::expect_no_frame() {
  h_->t_.run();
  if (unread() > 0)
    h_->t_.fail("SessionHarness: expected no frame from " + session_ + ", got \"" +
                frames_[read_].data + "\"");
}

CloseInfo Client::expect_closed() {
  while (!closed_) {
    if (state_ != State::open)
      h_->t_.fail("SessionHarness: expected " + session_ +
                  " to close a client that is not open (disconnected or refused)");
    if (!h_->t_.step())
      h_->t_.fail("SessionHarness: expected " + session_ + " to close the connection; it did not" +
                  timer_hint(h_->t_));
  }
  return *closed_;
}

}  // namespace testing
}  // namespace troupe
