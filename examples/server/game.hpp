#pragma once
// Tic-tac-toe with a turn timer: ws://HOST:PORT/game/<name>?name=<nick>. See
// README.md here for the protocol. The first two nicks to connect take the
// seats x and o (their connections tagged "player" and "x" or "o"); each
// gets, alone, a random seat token, and a nick that comes back with its token
// (?name=<nick>&token=<token>) gets its seat back; everyone else, a nick
// without the token included, is tagged "spectator".
// After each move the other player has turn_time to answer: the session's
// alarm, kept by the gateway's store, makes them forfeit otherwise, even
// when nobody is connected and the session had stopped.

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "json.hpp"
#include "net/gateway/persistent_session.hpp"
#include "protocol.hpp"
#include "runtime/clock.hpp"
#include "text.hpp"

namespace examples {

struct GameState {
  std::string board = std::string(9, '.');  // row by row: '.', 'x' or 'o'
  std::string turn = "x";
  std::string x, o;           // the seats' nicks, "" while free
  std::string winner;         // "", "x", "o" or "draw"
  std::string reason;         // why it ended: "line", "full" or "timeout"
  std::int64_t deadline = 0;  // ms since the epoch by which `turn` must move; 0: no clock
  // The seats' secrets, "" while free (or for a seat taken before seats had
  // tokens: its nick's next connection claims it and gets one).
  std::string x_token, o_token;
  // The connection that took each seat, as "<server process>/<connection
  // id>": it keeps the seat when the session restarts under it (its URL has
  // no token: it got the token on that connection).
  std::string x_holder, o_holder;
  MSGPACK_DEFINE(board, turn, x, o, winner, reason, deadline, x_token, o_token, x_holder, o_holder);

  std::string& nick_of(std::string_view seat) { return seat == "x" ? x : o; }
  const std::string& nick_of(std::string_view seat) const { return seat == "x" ? x : o; }
  std::string& token_of(std::string_view seat) { return seat == "x" ? x_token : o_token; }
  const std::string& token_of(std::string_view seat) const {
    return seat == "x" ? x_token : o_token;
  }
  std::string& holder_of(std::string_view seat) { return seat == "x" ? x_holder : o_holder; }
  const std::string& holder_of(std::string_view seat) const {
    return seat == "x" ? x_holder : o_holder;
  }
};

// 128 random bits from the kernel (getrandom), as 32 hex digits.
inline std::string random_token() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) token += {hex[b >> 4], hex[b & 15]};
  return token;
}

// This connection, unique across server processes (connection ids restart
// with the process; the prefix, random per process, tells them apart).
inline std::string holder_name(troupe::ConnectionId id) {
  static const std::string process = random_token();
  return process + "/" + std::to_string(id.value);
}

// Compares a presented token with a seat's in time independent of where they differ.
inline bool same_token(std::string_view presented, std::string_view seat) {
  if (presented.size() != seat.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < seat.size(); ++i)
    diff |= static_cast<unsigned char>(presented[i] ^ seat[i]);
  return diff == 0;
}

class TicTacToe : public troupe::PersistentSession<TicTacToe, GameState> {
 public:
  explicit TicTacToe(std::chrono::milliseconds turn_time = std::chrono::seconds(30))
      : turn_time_(turn_time) {}

  troupe::Task<> on_start() {
    // Nicks stored before they were checked may be invalid UTF-8: repaired
    // before anyone hears of them, and written back with the next write.
    GameState loaded = state();
    bool repaired = repair_utf8(loaded.x);
    repaired = repair_utf8(loaded.o) || repaired;
    if (repaired) mutate() = std::move(loaded);
    // A crash between committing a move and setting its alarm, or a store
    // error in set_alarm, leaves the clock without its alarm: set it again.
    if (clock_running() && alarm() != deadline_time()) (void)co_await set_alarm(deadline_time());
  }

  troupe::Task<> on_connect(troupe::Connection& c, const troupe::ConnectInfo& info) {
    std::string nick(info.request.query_param("name").value_or(""));
    if (nick.empty()) nick = "guest-" + std::to_string(c.id().value);  // can't reclaim a seat
    if (auto why = nick_problem(nick)) {
      c.state["refused"] = "1";
      c.close(troupe::close_code::policy_violation, *why);
      co_return;
    }
    c.state["name"] = nick;
    std::string token(info.request.query_param("token").value_or(""));
    const GameState& g = state();
    std::string seat;
    bool held_by_nick = false;
    for (const char* s : {"x", "o"}) {
      if (g.nick_of(s) != nick) continue;
      held_by_nick = true;
      // A seat from before tokens goes to its nick's first connection.
      if (g.token_of(s).empty() || same_token(token, g.token_of(s)) ||
          (info.resumed && g.holder_of(s) == holder_name(c.id())))
        seat = s;
    }
    std::string new_token;
    if (seat.empty() && !held_by_nick && (g.x.empty() || g.o.empty()))
      seat = g.x.empty() ? "x" : "o";
    if (!seat.empty() && g.token_of(seat).empty()) {
      // Taking a free seat (or one from before tokens): durable before it is
      // anyone's, its token sent to this client alone.
      new_token = random_token();
      GameState before = state();
      GameState& m = mutate();
      m.nick_of(seat) = nick;
      m.token_of(seat) = new_token;
      m.holder_of(seat) = holder_name(c.id());
      if (auto saved = co_await commit(); !saved) {
        mutate() = std::move(before);
        c.send(error_json("your seat could not be saved, watching instead (reconnect to retry): " +
                          to_string(saved.error())));
        seat.clear();
        new_token.clear();
      }
    }
    if (seat.empty()) {
      c.tag("spectator");
    } else {
      c.tag("player");
      c.tag(seat);
    }
    if (new_token.empty()) {
      c.send(state_json(seat.empty() ? "spectator" : seat));
      if (held_by_nick && seat.empty())
        c.send(error_json("the seat of " + nick + " needs its token: watching instead"));
      co_return;
    }
    c.send(to_text(Json{{"type", "seat"}, {"seat", seat}, {"token", new_token}}));
    broadcast_state();
  }

  troupe::Task<> on_message(troupe::Connection& c, std::string_view text, troupe::MessageKind) {
    if (c.state.count("refused")) co_return;  // closing
    std::string why;
    auto request = parse_request(text, why);
    std::string type = request ? request->type : "";
    if (type == "move") {
      co_await move(c, *request);
    } else if (type == "reset") {
      co_await reset(c, *request);
    } else {
      c.send(error_json(R"(expected {"type":"move","cell":0..8} or {"type":"reset"})",
                        request ? request->id : std::nullopt));
    }
  }

  // The player to move ran out of time, unless the alarm is stale (the game
  // ended, was reset, or has a later deadline since).
  troupe::Task<> on_alarm() {
    if (!clock_running()) co_return;
    if (now_ms() < state().deadline) {
      (void)co_await set_alarm(deadline_time());
      co_return;
    }
    std::string loser = state().turn;
    finish(mutate(), other(loser), "timeout");
    // No client waits on this: if the store fails, the restarted session
    // rings the alarm again.
    co_await commit_or_exit();
    broadcast_state();  // the alarm is cleared when this returns
  }

 private:
  troupe::Task<> move(troupe::Connection& c, const Request& request) {
    std::optional<int> cell = parse_cell(request.body);
    std::string role = role_of(c);
    if (auto why = refusal(role, cell)) {
      c.send(error_json(*why, request.id));
      co_return;
    }
    GameState before = state();
    GameState& g = mutate();
    g.board[static_cast<std::size_t>(*cell)] = role[0];
    if (has_line(g.board, role[0])) {
      finish(g, role, "line");
    } else if (g.board.find('.') == std::string::npos) {
      finish(g, "draw", "full");
    } else {
      g.turn = other(role);
      g.deadline = now_ms() + turn_time_.count();
    }
    if (!co_await commit_or_answer(c, std::move(before), request.id)) co_return;
    co_await follow_clock();
    broadcast_state();  // durable before anyone hears of it
    if (request.id) c.send(ack_frame(*request.id));
  }

  troupe::Task<> reset(troupe::Connection& c, const Request& request) {
    if (!c.has_tag("player")) {
      c.send(error_json("only players can reset the game", request.id));
      co_return;
    }
    GameState before = state();
    // A new game, the same seats: the board and the clock as new (the clock
    // starts with the first move).
    const GameState fresh;
    GameState& g = mutate();
    g.board = fresh.board;
    g.turn = fresh.turn;
    g.winner = fresh.winner;
    g.reason = fresh.reason;
    g.deadline = fresh.deadline;
    if (!co_await commit_or_answer(c, std::move(before), request.id)) co_return;
    co_await follow_clock();
    broadcast_state();
    if (request.id) c.send(ack_frame(*request.id));
  }

  // Commits the change made since `before`; if the store fails, puts
  // `before` back and tells the client, naming its request.
  troupe::Task<bool> commit_or_answer(troupe::Connection& c, GameState before,
                                      const std::optional<std::string>& id) {
    auto saved = co_await commit();
    if (saved) co_return true;
    mutate() = std::move(before);
    c.send(not_saved_frame(to_string(saved.error()), id));
    co_return false;
  }

  // Why `role` may not play `cell` now, if it may not.
  std::optional<std::string> refusal(const std::string& role, std::optional<int> cell) const {
    const GameState& g = state();
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

  // The state as a client sees it: never the tokens.
  std::string state_json(const std::string& role) const {
    const GameState& g = state();
    auto text_or_null = [](const std::string& s) {
      return s.empty() ? Json(nullptr) : Json(s);
    };
    return to_text(Json{{"type", "state"},
                        {"board", g.board},
                        {"turn", g.turn},
                        {"players", {{"x", text_or_null(g.x)}, {"o", text_or_null(g.o)}}},
                        {"role", role},
                        {"winner", text_or_null(g.winner)},
                        {"reason", text_or_null(g.reason)},
                        {"deadline", g.deadline ? Json(g.deadline) : Json(nullptr)},
                        {"now", now_ms()}});
  }

  static std::string error_json(const std::string& why, const std::optional<std::string>& id = {}) {
    return error_frame(why, id);
  }

  static std::string role_of(const troupe::Connection& c) {
    return c.has_tag("x") ? "x" : c.has_tag("o") ? "o" : "spectator";
  }

  // An integer 0..8 (or a string of one digit, as clients used to send it).
  static std::optional<int> parse_cell(const Json& body) {
    auto it = body.find("cell");
    if (it == body.end()) return std::nullopt;
    if (it->is_number_integer()) {
      auto v = it->get<std::int64_t>();
      if (v >= 0 && v <= 8) return static_cast<int>(v);
      return std::nullopt;
    }
    if (it->is_string()) {
      const auto& s = it->get_ref<const std::string&>();
      if (s.size() == 1 && s[0] >= '0' && s[0] <= '8') return s[0] - '0';
    }
    return std::nullopt;
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

  // The wall clock as the runtime reads it (troupe::system_now), so that a
  // test on virtual time (troupe::testing) runs the turn timer.
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               troupe::system_now().time_since_epoch())
        .count();
  }

  bool clock_running() const { return state().winner.empty() && state().deadline != 0; }
  AlarmTime deadline_time() const { return AlarmTime(std::chrono::milliseconds(state().deadline)); }

  std::chrono::milliseconds turn_time_;
};

}  // namespace examples
