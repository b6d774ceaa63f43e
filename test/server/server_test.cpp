// The server behaviour: init, calls (direct and deferred), casts, infos,
// terminate, stop, start failures, and the errors of call().
#include "runtime/server.hpp"

#include <CppUTest/TestHarness.h>

#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Get {
  using reply = int;
};
struct Add {
  int n = 0;
};
struct Later {  // replied to by the next Add, which the server casts to itself
  using reply = int;
};
struct Crash {
  using reply = int;
};
struct Slow {
  using reply = int;
};
struct Tick {};

struct Counter : Server<Counter> {
  using calls = types<Get, Later, Crash, Slow>;
  using casts = types<Add>;
  using infos = types<Tick>;

  Counter(int start, EventLog* log) : n(start), log(log) {}

  void init() { log->add("init"); }
  int handle_call(const Get&) { return n; }
  void handle_call(const Later&, const From& from) {
    waiting = from;
    cast(process(), pid(), Add{41});  // handled after this callback: the reply is deferred
  }
  int handle_call(const Crash&) { throw std::runtime_error("crash in call"); }
  Task<int> handle_call(const Slow&) {
    co_await process().sleep_for(1ms);
    co_return n * 10;
  }
  void handle_cast(const Add& a) {
    n += a.n;
    if (waiting) reply(*waiting, n);
    waiting.reset();
  }
  void handle_info(const Tick&) { log->add("tick"); }
  void terminate(const ExitReason& r) { log->add("terminate " + to_string(r)); }

  int n;
  EventLog* log;
  std::optional<From> waiting;
};

struct Failing : Server<Failing> {
  explicit Failing(int mode) : mode(mode) {}
  void init() {
    if (mode == 0) throw std::runtime_error("no db");
    if (mode == 1) stop(ExitReason::error("refused"));
    if (mode == 2) ignore();
  }
  int mode;
};

struct Stopper : Server<Stopper> {
  using casts = types<Stop>;
  explicit Stopper(EventLog* log) : log(log) {}
  void handle_cast(const Stop&) { stop(ExitReason::shutdown_with("done")); }
  void terminate(const ExitReason& r) { log->add("terminate " + to_string(r)); }
  EventLog* log;
};

struct Trapper : Server<Trapper> {
  explicit Trapper(EventLog* log) : log(log) {}
  void init() { process().trap_exit(true); }
  Task<> terminate(const ExitReason& r) {
    co_await process().yield();  // terminate may await
    log->add("terminate " + to_string(r));
  }
  EventLog* log;
};

}  // namespace

TEST_GROUP(Server){};

TEST(Server, InitRunsBeforeStartReturnsAndCallsGetReplies) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {}, 5, &log);
    log.add("started");
    auto r = co_await call(self, *pid, Get{});
    if (r) got = *r;
    self.exit(*pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("init,started", log.joined().c_str());
  LONGS_EQUAL(5, got);
}

TEST(Server, CastsAreHandledInOrderBeforeALaterCall) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {.name = "counter"}, 0, &log);
    for (int i = 1; i <= 10; ++i) cast(self, "counter", Add{i});
    auto r = co_await call(self, "counter", Get{});
    if (r) got = *r;
    self.exit(*pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(55, got);
}

TEST(Server, DeferredReplyArrivesWhenTheServerSendsIt) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {}, 1, &log);
    Pid server = *pid;
    auto r = co_await call(self, server, Later{});
    if (r) got = *r;
    self.exit(server, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(42, got);
}

TEST(Server, CoroutineHandlerRepliesWithItsResult) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {}, 4, &log);
    auto r = co_await call(self, *pid, Slow{});
    if (r) got = *r;
    self.exit(*pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(40, got);
}

TEST(Server, InfoMessagesReachHandleInfo) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {}, 0, &log);
    self.send(*pid, Tick{});
    self.send(*pid, std::string("unexpected: dropped"));
    co_await call(self, *pid, Get{});  // both handled by now
    self.exit(*pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  STRCMP_EQUAL("init,tick", log.joined().c_str());
}

TEST(Server, CallToACrashingHandlerGivesTheExitReasonAfterTerminate) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {.link = false}, 0, &log);
    auto r = co_await call(self, *pid, Crash{});
    if (!r) err = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::exit);
  STRCMP_EQUAL("{error, std::runtime_error: crash in call}", to_string(err.reason).c_str());
  STRCMP_EQUAL("init,terminate {error, std::runtime_error: crash in call}", log.joined().c_str());
}

TEST(Server, CallByUnknownNameIsNoproc) {
  Runtime rt({.schedulers = 1});
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    auto r = co_await call(self, "nobody", Get{});
    if (!r) err = r.error();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::noproc);
}

TEST(Server, CallTimesOut) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  CallError err;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Counter>(self, {}, 0, &log);
    auto r = co_await call(self, *pid, Slow{}, 0ms);  // the reply needs at least 1 ms
    if (!r) err = r.error();
    self.exit(*pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == CallError::Kind::timeout);
}

TEST(Server, StopRunsTerminateAndExitsWithTheReason) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    auto pid = co_await start_server<Stopper>(self, {.link = false}, &log);
    self.monitor(*pid);
    cast(self, *pid, Stop{});
    reason = (co_await self.receive<Down>()).reason;
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == ExitReason::shutdown_with("done"));
  STRCMP_EQUAL("terminate {shutdown, done}", log.joined().c_str());
}

TEST(Server, ParentExitStopsATrappingServerThroughTerminate) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  ExitReason reason;
  rt.spawn([&](Process& self) -> Proc {
    Pid me = self.self();
    Pid parent = self.spawn([&log, me](Process& p) -> Proc {
      auto pid = co_await start_server<Trapper>(p, {}, &log);
      p.send(me, *pid);
      co_await p.receive([](const Stop&) {});
      p.exit(ExitReason::error("parent gone"));
    });
    Pid server = co_await self.receive<Pid>();
    Ref watch = self.monitor(server);
    self.send(parent, Stop{});
    co_await self.receive(when([watch](const Down& d) { return d.ref == watch; },
                               [&](Down& d) { reason = d.reason; }));
  });
  CHECK(rt.run_for(run_limit));
  CHECK(reason == ExitReason::error("parent gone"));
  STRCMP_EQUAL("terminate {error, parent gone}", log.joined().c_str());
}

TEST(Server, InitFailureIsAStartErrorWithItsReason) {
  Runtime rt({.schedulers = 1});
  StartError thrown, stopped;
  bool ignored = false;
  rt.spawn([&](Process& self) -> Proc {
    self.trap_exit(true);
    auto a = co_await start_server<Failing>(self, {}, 0);
    if (!a) thrown = a.error();
    auto b = co_await start_server<Failing>(self, {}, 1);
    if (!b) stopped = b.error();
    auto c = co_await start_server<Failing>(self, {}, 2);
    ignored = c.ok() && !c.value().valid();
  });
  CHECK(rt.run_for(run_limit));
  CHECK(thrown.kind == StartError::Kind::failed);
  STRCMP_EQUAL("{error, std::runtime_error: no db}", to_string(thrown.reason).c_str());
  CHECK(stopped.reason == ExitReason::error("refused"));
  CHECK(ignored);
}

TEST(Server, TakenNameIsAlreadyStartedWithTheHolder) {
  Runtime rt({.schedulers = 1});
  EventLog log;
  StartError err;
  Pid first;
  rt.spawn([&](Process& self) -> Proc {
    auto a = co_await start_server<Counter>(self, {.name = "solo"}, 0, &log);
    first = *a;
    auto b = co_await start_server<Counter>(self, {.name = "solo"}, 0, &log);
    if (!b) err = b.error();
    self.exit(first, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  CHECK(err.kind == StartError::Kind::already_started);
  CHECK(err.holder == first);
}

TEST(Server, SpawnServerFromOutsideServesByName) {
  Runtime rt({.schedulers = 2});
  EventLog log;
  Pid pid = spawn_server<Counter>(rt, {.name = "outside"}, 7, &log);
  int got = 0;
  rt.spawn([&](Process& self) -> Proc {
    auto r = co_await call(self, pid, Get{});
    if (r) got = *r;
    cast(self, "outside", Add{1});
    self.exit(pid, troupe::kill);
  });
  CHECK(rt.run_for(run_limit));
  LONGS_EQUAL(7, got);
}
