#pragma once
// Tic-tac-toe with a turn timer: ws://HOST:PORT/game/<name>?name=<nick>. See
// README.md here for the protocol. The first two nicks to connect take the
// seats x and o (their connections tagged "player" and "x" or "o"; a nick
// that comes back gets its seat back); everyone else is tagged "spectator".
// After each move the other player has turn_time to answer: the session's
// alarm, kept by the gateway's store, makes them forfeit otherwise, even
// when nobody is connected and the session had stopped.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>

#include "json.hpp"
#include "net/session.hpp"
#include "persist/actor_state.hpp"

namespace examples {

struct GameState {
  std::string board = std::string(9, '.');  // row by row: '.', 'x' or 'o'
  std::string turn = "x";
  std::string x, o;           // the seats' nicks, "" while free
  std::string winner;         // "", "x", "o" or "draw"
  std::string reason;         // why it ended: "line", "full" or "timeout"
  std::int64_t deadline = 0;  // ms since the epoch by which `turn` must move; 0: no clock
  MSGPACK_DEFINE(board, turn, x, o, winner, reason, deadline);
};

class TicTacToe : public troupe::Session {
 public:
  explicit TicTacToe(troupe::ActorStore* store,
                     std::chrono::milliseconds turn_time = std::chrono::seconds(30))
      : store_(store), turn_time_(turn_time) {}

  troupe::Task<> on_start() override {
    state_.emplace(*store_, "game/" + name());
    co_await state_->load(self());
    // A crash between committing a move and setting its alarm, or a store
    // error in set_alarm, leaves the clock without its alarm: set it again.
    if (clock_running() && alarm() != deadline_time()) (void)co_await set_alarm(deadline_time());
  }

  void on_info(troupe::AnyMessage& m) override { state_->handle(m); }
  troupe::Task<> on_stop() override { (void)co_await state_->flush(self()); }

  troupe::Task<> on_connect(troupe::Connection& c, const troupe::ConnectInfo& info) override {
    std::string nick(info.request.query_param("name").value_or(""));
    if (nick.empty()) nick = "guest-" + std::to_string(c.id().value);  // can't reclaim a seat
    c.state["name"] = nick;
    const GameState& g = state_->get();
    std::string seat = g.x == nick ? "x" : g.o == nick ? "o" : "";
    bool seated_now = false;
    if (seat.empty() && (g.x.empty() || g.o.empty())) {
      seat = g.x.empty() ? "x" : "o";
      GameState& m = state_->mutate();
      (seat == "x" ? m.x : m.o) = nick;
      seated_now = true;
    }
    if (seat.empty()) {
      c.tag("spectator");
    } else {
      c.tag("player");
      c.tag(seat);
    }
    if (!seated_now) {
      c.send(state_json(seat.empty() ? "spectator" : seat));
      co_return;
    }
    co_await state_->commit_or_exit(self());  // a seat is taken once it is durable
    broadcast_state();
  }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text,
                            troupe::MessageKind) override {
    auto msg = parse_flat_object(text);
    std::string type = msg && msg->count("type") ? msg->at("type") : "";
    if (type == "move") {
      co_await move(c, *msg);
    } else if (type == "reset") {
      co_await reset(c);
    } else {
      c.send(error_json(R"(expected {"type":"move","cell":0..8} or {"type":"reset"})"));
    }
  }

  // The player to move ran out of time, unless the alarm is stale (the game
  // ended, was reset, or has a later deadline since).
  troupe::Task<> on_alarm() override {
    if (!clock_running()) co_return;
    if (now_ms() < state_->get().deadline) {
      (void)co_await set_alarm(deadline_time());
      co_return;
    }
    std::string loser = state_->get().turn;
    finish(state_->mutate(), other(loser), "timeout");
    co_await state_->commit_or_exit(self());
    broadcast_state();  // the alarm is cleared when this returns
  }

 private:
  troupe::Task<> move(troupe::Connection& c, const JsonObject& msg) {
    std::optional<int> cell = parse_cell(msg);
    std::string role = role_of(c);
    if (auto why = refusal(role, cell)) {
      c.send(error_json(*why));
      co_return;
    }
    GameState& g = state_->mutate();
    g.board[static_cast<std::size_t>(*cell)] = role[0];
    if (has_line(g.board, role[0])) {
      finish(g, role, "line");
    } else if (g.board.find('.') == std::string::npos) {
      finish(g, "draw", "full");
    } else {
      g.turn = other(role);
      g.deadline = now_ms() + turn_time_.count();
    }
    co_await state_->commit_or_exit(self());  // durable before anyone hears of it
    co_await follow_clock();
    broadcast_state();
    if (msg.count("id")) c.send(R"({"type":"ack","id":)" + quote(msg.at("id")) + "}");
  }

  troupe::Task<> reset(troupe::Connection& c) {
    if (!c.has_tag("player")) {
      c.send(error_json("only players can reset the game"));
      co_return;
    }
    GameState& g = state_->mutate();
    GameState fresh;
    fresh.x = g.x;
    fresh.o = g.o;
    g = fresh;  // the clock starts with the first move
    co_await state_->commit_or_exit(self());
    co_await follow_clock();
    broadcast_state();
  }

  // Why `role` may not play `cell` now, if it may not.
  std::optional<std::string> refusal(const std::string& role, std::optional<int> cell) const {
    const GameState& g = state_->get();
    if (!cell) return R"(expected {"type":"move","cell":0..8})";
    if (role == "spectator") return "spectators cannot move";
    if (!g.winner.empty()) return "the game is over";
    if (g.o.empty()) return "waiting for an opponent";
    if (g.turn != role) return "not your turn";
    if (g.board[static_cast<std::size_t>(*cell)] != '.')
      return "cell " + std::to_string(*cell) + " is taken";
    return std::nullopt;
  }

  // The alarm follows the committed deadline. A store error is not fatal:
  // the alarm still fires while this gateway runs, and on_start sets it
  // again after a restart.
  troupe::Task<> follow_clock() {
    if (clock_running())
      (void)co_await set_alarm(deadline_time());
    else if (alarm())
      (void)co_await cancel_alarm();
  }

  // Everyone, each with their own role: the tags pick the connections.
  void broadcast_state() {
    for (const char* role : {"x", "o", "spectator"}) {
      std::string frame = state_json(role);
      for (troupe::Connection* c : connections(role)) c->send(frame);
    }
  }

  std::string state_json(const std::string& role) const {
    const GameState& g = state_->get();
    auto text_or_null = [](const std::string& s) {
      return s.empty() ? "null" : quote(s);
    };
    return R"({"type":"state","board":)" + quote(g.board) + R"(,"turn":)" + quote(g.turn) +
           R"(,"players":{"x":)" + text_or_null(g.x) + R"(,"o":)" + text_or_null(g.o) +
           R"(},"role":)" + quote(role) + R"(,"winner":)" + text_or_null(g.winner) +
           R"(,"reason":)" + text_or_null(g.reason) + R"(,"deadline":)" +
           (g.deadline ? std::to_string(g.deadline) : "null") + R"(,"now":)" +
           std::to_string(now_ms()) + "}";
  }

  static std::string error_json(const std::string& why) {
    return R"({"type":"error","error":)" + quote(why) + "}";
  }

  static std::string role_of(const troupe::Connection& c) {
    return c.has_tag("x") ? "x" : c.has_tag("o") ? "o" : "spectator";
  }

  // A single digit 0..8 (as a number or a string).
  static std::optional<int> parse_cell(const JsonObject& msg) {
    auto it = msg.find("cell");
    if (it == msg.end() || it->second.size() != 1 || it->second[0] < '0' || it->second[0] > '8')
      return std::nullopt;
    return it->second[0] - '0';
  }

  static bool has_line(const std::string& b, char p) {
    static constexpr int lines[8][3] = {{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6},
                                        {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}};
    return std::any_of(std::begin(lines), std::end(lines), [&](const int(&l)[3]) {
      return b[l[0]] == p && b[l[1]] == p && b[l[2]] == p;
    });
  }

  static void finish(GameState& g, std::string winner, std::string reason) {
    g.winner = std::move(winner);
    g.reason = std::move(reason);
    g.deadline = 0;
  }

  static std::string other(const std::string& seat) { return seat == "x" ? "o" : "x"; }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  bool clock_running() const { return state_->get().winner.empty() && state_->get().deadline != 0; }
  AlarmTime deadline_time() const {
    return AlarmTime(std::chrono::milliseconds(state_->get().deadline));
  }

  troupe::ActorStore* store_;
  std::chrono::milliseconds turn_time_;
  std::optional<troupe::ActorState<GameState>> state_;
};

}  // namespace examples
