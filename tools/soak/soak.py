#!/usr/bin/env python3
"""A chaos soak with real processes (docs/soak.md).

Usage: soak.py SERVER_BINARY WWW_DIR [--seconds N] [--modes file,redis]
               [--seed N] [--log-dir DIR] [--faults A,B] [--break lose|dup|fd]

Runs the example server in its FileStore mode and then its Redis mode, each
for half of --seconds, under a steady load of counter and chat clients,
while injecting faults at random (seeded; the seed is printed first and
--seed repeats the choices): session crashes, SIGKILL and restart of the
server, redis-server killed and restarted, slow consumers, connection churn,
and a full disk under the FileStore. After each fault it waits until every
client is connected and acknowledged again (a checkpoint), and samples the
server's descriptors and RSS there. At the end of a mode the faults stop,
every client drains its unacknowledged operations, and every counter and
room is read. Prints one line per mode and, last, the total:

  soak seconds=N faults=N acked=N lost=N duplicated=N fd_growth=N rss_growth_kb=N

and exits 1 when an invariant broke: an acknowledged operation lost, one
applied twice, a client that did not reconnect or drain in time, the
server exiting on its own, or fd/RSS growth past the thresholds below.
--break lose|dup breaks the accounting on purpose (clients.py), --break fd
holds two more connections open after every fault (descriptors that grow
with the cycles, as a leak would): each must fail the run.
"""
import argparse
import asyncio
import os
import random
import shutil
import subprocess
import signal
import sys
import tempfile
import time

from clients import (ChatClient, CounterClient, Load, connect, crash_room, read_counter,
                     read_history, short_visit, slow_consumer)
from invariants import ChatLedger, CounterLedger, RetryWindow, Violations, growth
from processes import Redis, Server, SmallDisk

COUNTERS = 8            # shared counters ...
CLIENTS_PER_COUNTER = 3  # ... each with this many clients: 24 counter clients
ROOMS = 4               # chat rooms ...
CLIENTS_PER_ROOM = 2    # ... 8 chat clients
SETTLE_WITHIN = 60.0    # seconds for every client to reconnect and be acked after a fault
DRAIN_WITHIN = 60.0     # seconds for every client to drain at the end
FD_GROWTH_MAX = 8       # descriptors (see docs/soak.md for why these bounds)
RSS_GROWTH_MAX_KB = 16 << 10
DISK_MB = 16            # the FileStore's tmpfs


class Cleanup:
    """Undo actions run in reverse order, at the end of a mode or, whatever
    happened (an exception, SIGINT, SIGTERM), before the controller exits."""

    def __init__(self):
        self.actions = []

    def push(self, action):
        self.actions.append(action)

    def run(self):
        while self.actions:
            try:
                self.actions.pop()()
            except Exception as e:  # keep undoing the rest
                print("soak: cleanup: %s" % e, file=sys.stderr)


class ModeResult:
    def __init__(self, mode):
        self.mode = mode
        self.seconds = 0.0
        self.faults = {}
        self.acked = 0
        self.lost = 0
        self.duplicated = 0
        self.fd_samples = []
        self.rss_samples = []
        self.failures = []
        self.resends = 0
        self.errors = 0
        self.connects = 0

    def fault_count(self):
        return sum(self.faults.values())

    def line(self):
        return ("soak mode=%s seconds=%d faults=%d acked=%d lost=%d duplicated=%d fd_growth=%d "
                "rss_growth_kb=%d" % (self.mode, self.seconds, self.fault_count(), self.acked,
                                      self.lost, self.duplicated, growth(self.fd_samples),
                                      growth(self.rss_samples)))


class Mode:
    def __init__(self, name, args, rng, cleanup):
        self.name = name
        self.args = args
        self.rng = rng
        self.cleanup = cleanup
        self.result = ModeResult(name)
        self.started = time.monotonic()
        self.redis = None
        self.disk = None
        self.server = None
        self.load = None
        self.clients = []
        self.tasks = []
        self.held = []  # --break fd

    def say(self, text):
        print("[soak %s %6.1fs] %s" % (self.name, time.monotonic() - self.started, text),
              flush=True)

    def fail(self, text):
        self.result.failures.append(text)
        self.say("FAIL: " + text)

    # -- setting up -------------------------------------------------------

    def start_processes(self):
        scratch = tempfile.mkdtemp(prefix="troupe-soak-")
        self.cleanup.push(lambda: shutil.rmtree(scratch, ignore_errors=True))
        redis_url = None
        data_dir = os.path.join(scratch, "unused")
        if self.name == "file":
            self.disk = SmallDisk(os.path.join(scratch, "fs"), DISK_MB)
            try:
                self.disk.mount()
                self.cleanup.push(self.disk.unmount)
                data_dir = os.path.join(self.disk.mount_point, "data")
            except Exception as e:
                self.say("no tmpfs (%s): the full-disk fault is off" % e)
                self.disk = None
        else:
            self.redis = Redis(scratch)
            self.redis.start()
            self.cleanup.push(lambda: self.redis.proc.poll() is None and self.redis.kill())
            redis_url = "redis://127.0.0.1:%d/0" % self.redis.port
        log = os.path.join(self.args.log_dir, "server-%s.log" % self.name)
        open(log, "wb").close()
        self.server = Server(self.args.server, self.args.www, data_dir, redis_url, log)
        self.cleanup.push(self.server.stop)
        if not self.server.start():
            raise RuntimeError("the example server did not start:\n" + self.server.log_tail())

    def start_clients(self):
        violations = Violations(lambda text: self.say("violation: " + text))
        self.violations = violations
        nonce = "%08x" % self.rng.getrandbits(32)
        self.load = Load(self.server.port, nonce, self.rng, CounterLedger(violations),
                         ChatLedger(violations), set(self.args.breaks))
        self.counters = ["soak-%s-k%d" % (nonce, i) for i in range(COUNTERS)]
        self.rooms = ["soak-%s-r%d" % (nonce, i) for i in range(ROOMS)]
        index = 0
        for counter in self.counters:
            self.load.counters.add_counter(counter)
            self.load.windows[counter] = RetryWindow()
            for _ in range(CLIENTS_PER_COUNTER):
                self.clients.append(CounterClient(self.load, index, counter))
                index += 1
        for room in self.rooms:
            for _ in range(CLIENTS_PER_ROOM):
                self.clients.append(ChatClient(self.load, index, room))
                index += 1
        self.tasks = [asyncio.create_task(c.run()) for c in self.clients]

    # -- checkpoints ------------------------------------------------------

    async def settle(self, since, limit, what, reconnected=False):
        """Waits until every client is connected and acknowledged after
        `since`; a failure (with the laggards) past `limit` seconds."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if all(c.settled_since(since, reconnected) for c in self.clients):
                return True
            await asyncio.sleep(0.05)
        behind = [c.path for c in self.clients if not c.settled_since(since, reconnected)]
        self.fail("%d clients not reconnected and acknowledged within %.0f s %s: %s"
                  % (len(behind), limit, what, behind[:4]))
        return False

    async def sample(self):
        """fd count and RSS at a checkpoint: the least of five reads over a
        second (a connection closing right then is not a leak)."""
        fds, rss = [], []
        for _ in range(5):
            try:
                fds.append(self.server.fd_count())
                rss.append(self.server.rss_kb())
            except OSError:
                return
            await asyncio.sleep(0.2)
        pid = self.server.pid
        self.result.fd_samples.append((pid, min(fds)))
        self.result.rss_samples.append((pid, min(rss)))

    def check_server_alive(self):
        status = self.server.exited()
        if status is not None:
            self.fail("the server exited on its own (status %d): %s"
                      % (status, self.server.log_tail(5)))
            return False
        return True

    async def restart_server(self):
        loop = asyncio.get_running_loop()
        for _ in range(3):
            if await loop.run_in_executor(None, self.server.start):
                return True
        self.fail("the server did not come back: " + self.server.log_tail(5))
        return False

    # -- faults -----------------------------------------------------------

    def faults(self):
        names = ["session_crash", "server_kill", "slow_consumers", "churn"]
        names.append("disk_full" if self.name == "file" and self.disk else None)
        names.append("redis_kill" if self.name == "redis" else None)
        names = [n for n in names if n]
        if self.args.faults:
            names = [n for n in names if n in self.args.faults.split(",")]
        return names

    async def inject(self, fault):
        rng = self.rng
        loop = asyncio.get_running_loop()
        if fault == "session_crash":
            rooms = rng.sample(self.rooms, rng.randint(1, 2))
            done = await asyncio.gather(*(crash_room(self.server.port, r) for r in rooms))
            return "%d of %d rooms crashed" % (sum(done), len(rooms))
        if fault == "server_kill":
            self.server.kill()
            await asyncio.sleep(rng.uniform(0, 1.5))
            await self.restart_server()
            return "pid %d now" % self.server.pid
        if fault == "redis_kill":
            down = rng.uniform(1, 6)
            self.redis.kill()
            await asyncio.sleep(down)
            await loop.run_in_executor(None, self.redis.start)
            return "down %.1f s" % down
        if fault == "disk_full":
            held = rng.uniform(2, 6)
            taken = await loop.run_in_executor(None, self.disk.fill)
            # The store frees blocks meanwhile (a failed write's temporary
            # file is removed): the filler takes them back, so the disk
            # stays full for the whole fault.
            retaken = 0
            end = time.monotonic() + held
            while time.monotonic() < end:
                await asyncio.sleep(0.05)
                retaken += self.disk.fill()
            self.disk.free()
            # A batch whose journal was committed but not applied (the store
            # answered an error) is replayed when the store next opens.
            journals = self.disk.journals()
            return "filled %d kB (%d kB more taken back), held %.1f s%s" % (
                taken >> 10, retaken >> 10, held,
                ", journals left: %s" % journals if journals else "")
        if fault == "slow_consumers":
            hold = rng.uniform(3, 8)
            paths = []
            for i in range(rng.randint(2, 6)):
                if rng.random() < 0.7:
                    paths.append("/chat/%s?name=slow%d" % (rng.choice(self.rooms), i))
                else:
                    paths.append("/counter/" + rng.choice(self.counters))
            done = await asyncio.gather(*(slow_consumer(self.server.port, p, hold)
                                          for p in paths))
            return "%d of %d stopped reading for %.1f s" % (sum(done), len(paths), hold)
        if fault == "churn":
            dropped = rng.sample(self.clients, rng.randint(3, len(self.clients) // 2))
            for c in dropped:
                await c.drop(abrupt=rng.random() < 0.5)
            paths = ["/counter/" + rng.choice(self.counters) for _ in range(rng.randint(10, 30))]
            visits = await asyncio.gather(*(short_visit(self.server.port, p) for p in paths))
            return "%d clients dropped, %d of %d short visits" % (len(dropped), sum(visits),
                                                                   len(paths))
        raise ValueError(fault)

    # -- the run ----------------------------------------------------------

    async def run(self, seconds):
        self.start_processes()
        self.start_clients()
        try:
            await self.settle(time.monotonic(), SETTLE_WITHIN, "at the start")
            await self.sample()
            began = time.monotonic()
            while time.monotonic() - began < seconds and not self.result.failures:
                fault = self.rng.choice(self.faults())
                self.result.faults[fault] = self.result.faults.get(fault, 0) + 1
                detail = await self.inject(fault)
                ended = time.monotonic()
                self.say("fault %s: %s" % (fault, detail))
                if not self.check_server_alive():
                    await self.restart_server()
                if "fd" in self.args.breaks:  # --break fd: 2 more connections held per fault
                    self.held += [await connect(self.load.url("/counter/" + c))
                                  for c in self.counters[:2]]
                if await self.settle(ended, SETTLE_WITHIN, "after " + fault):
                    await self.sample()
                await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            self.result.seconds = time.monotonic() - began
            await self.finish()
        finally:
            for ws in self.held:
                ws.transport.abort()
            self.load.stopping = True
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        return self.result

    async def finish(self):
        """Faults off: every client drains; then the server is killed once
        more, so that what is read next comes from the store and not from
        the sessions' memory; the clients reconnect (checking the values
        they get) and each counter and room is read."""
        self.load.draining = True
        if not await self.settle(time.monotonic(), DRAIN_WITHIN, "while draining"):
            return
        if any(c.unacked for c in self.clients):
            self.fail("unacknowledged operations left after draining")
        killed = time.monotonic()
        self.server.kill()
        if not await self.restart_server():
            return
        if not await self.settle(killed, SETTLE_WITHIN, "after the final restart", True):
            return
        port = self.server.port
        for counter in self.counters:
            value = await read_counter(port, counter)
            ledger = self.load.counters
            ledger.observe(counter, value, ledger.acked_count(counter), "final read")
            if value != ledger.acked_count(counter):
                self.say("counter %s: value %d, acked %d, sent %d" % (
                    counter, value, ledger.acked_count(counter), len(ledger.sent[counter])))
        for room in self.rooms:
            history = await read_history(port, room)
            for c in self.clients:
                if isinstance(c, ChatClient) and c.room == room:
                    c.check_history(history, "final read")
        self.check_server_alive()

    def conclude(self):
        r = self.result
        if self.load:
            r.acked = self.load.counters.total_acked() + self.load.chats.total_acked()
            r.lost, r.duplicated = self.violations.totals()
            r.resends, r.errors, r.connects = self.load.resends, self.load.errors, self.load.connects
            for v in self.violations.first:
                self.fail("invariant: " + v)
            for e in self.load.protocol_errors[:5]:
                self.fail("protocol: " + e)
        if growth(r.fd_samples) > FD_GROWTH_MAX:
            self.fail("fd_growth %d > %d: %s" % (growth(r.fd_samples), FD_GROWTH_MAX,
                                                 r.fd_samples))
        if growth(r.rss_samples) > RSS_GROWTH_MAX_KB:
            self.fail("rss_growth_kb %d > %d: %s" % (growth(r.rss_samples), RSS_GROWTH_MAX_KB,
                                                     r.rss_samples))
        self.say("faults %s; %d connects, %d resends, %d error frames, %d server starts; "
                 "fd %s; rss_kb %s" % (
                     r.faults, r.connects, r.resends, r.errors,
                     self.server.starts if self.server else 0,
                     [v for _, v in r.fd_samples], [v for _, v in r.rss_samples]))
        return r


async def run_mode(name, seconds, args, rng, cleanup):
    # SIGTERM cancels the run as SIGINT does (asyncio.run's own handler):
    # every finally below runs, then main() reports the interruption.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    mode = Mode(name, args, rng, cleanup)
    try:
        await mode.run(seconds)
    except (Exception, SystemExit) as e:  # SystemExit: py_support.fail, e.g. Redis not up
        mode.fail("%s: %s" % (type(e).__name__, e))
    finally:
        cleanup.run()
    return mode.conclude()


def in_own_mount_namespace(argv):
    """Re-executes under `unshare --mount` (root only): the tmpfs is then
    private to the soak and disappears with it, even if it is SIGKILLed."""
    if os.environ.get("TROUPE_SOAK_NS") or os.geteuid() != 0 or not shutil.which("unshare"):
        return
    # Root in a container may still be refused a namespace (no
    # CAP_SYS_ADMIN): then run as we are; the tmpfs mount will fail too and
    # the full-disk fault is switched off.
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return
    os.environ["TROUPE_SOAK_NS"] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--",
                          sys.executable, os.path.abspath(__file__)] + argv)


def parse(argv):
    p = argparse.ArgumentParser(description="Troupe's chaos soak (docs/soak.md)")
    p.add_argument("server")
    p.add_argument("www")
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--modes", default="file,redis")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--log-dir", default=None)
    p.add_argument("--faults", default=None,
                   help="only these faults (comma-separated), e.g. disk_full,server_kill")
    p.add_argument("--break", dest="breaks", action="append", default=[],
                   choices=["lose", "dup", "fd"])
    return p.parse_args(argv)


def main(argv):
    args = parse(argv)
    in_own_mount_namespace(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    modes = [m for m in args.modes.split(",") if m]
    if args.log_dir is None:
        args.log_dir = tempfile.mkdtemp(prefix="troupe-soak-logs-")
    os.makedirs(args.log_dir, exist_ok=True)
    print("soak seed=%d modes=%s seconds=%d logs=%s (repeat the faults with --seed %d)"
          % (seed, ",".join(modes), args.seconds, args.log_dir, seed), flush=True)
    cleanup = Cleanup()

    def terminate(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, terminate)
    results = []
    try:
        for name in modes:
            results.append(asyncio.run(run_mode(name, args.seconds / len(modes), args, rng,
                                                cleanup)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: interrupted", flush=True)
        return 130
    finally:
        cleanup.run()
    failures = [f for r in results for f in r.failures]
    for r in results:
        print(r.line())
    for f in failures:
        print("FAIL: %s" % f)
    print("soak seconds=%d faults=%d acked=%d lost=%d duplicated=%d fd_growth=%d rss_growth_kb=%d"
          % (sum(r.seconds for r in results), sum(r.fault_count() for r in results),
             sum(r.acked for r in results), sum(r.lost for r in results),
             sum(r.duplicated for r in results),
             max([growth(r.fd_samples) for r in results] or [0]),
             max([growth(r.rss_samples) for r in results] or [0])), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
