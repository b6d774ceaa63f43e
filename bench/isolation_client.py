#!/usr/bin/python3
"""The client of `make bench-isolation` (issue #17): can one session stall the others?

N echo clients, each on its own session (ws://127.0.0.1:PORT/echo/iso-<i>),
send a frame every INTERVAL ms on a fixed schedule and time each round trip
(send -> its echo). After a warm-up, one more client sends "SPIN_MS" to
/spin/iso, whose session burns the CPU that long without suspending, then
echoes. The run goes on until the spin's echo is back, plus a short tail.

The spin window is [spin sent, spin echo received]. A round trip overlaps it
when it was in flight at some point of that window; frames still unanswered
when the run stops count with the time they had waited so far. Prints one line:

  bench=isolation spin_ms=2000 echo_clients=20 stalled_clients=N others_p99_ms=X spin_rtt_ms=Y

stalled_clients: clients with an overlapping round trip over --stall-ms (100).
others_p99_ms: p99 of the overlapping round trips of all echo clients.
Details (per-client worst round trip, the client's own scheduling lag) go to
stderr. Loopback only.
"""

import argparse
import asyncio
import math
import sys
import time

import websockets

HOST = "127.0.0.1"


def now_ms():
    return time.monotonic_ns() / 1e6


class EchoClient:
    """One connection on a fixed send schedule; late echoes never delay sends."""

    def __init__(self, index, interval_ms):
        self.index = index
        self.interval_ms = interval_ms
        self.sent = {}  # seq -> send time (ms), the frames outstanding
        self.trips = []  # (sent_ms, received_ms)
        self.seq = 0
        self.max_lag_ms = 0.0  # how late this client's own sends went out
        self.skipped = 0  # schedule slots skipped because the client itself was late

    async def send_loop(self, ws, start_ms, stop):
        next_ms = start_ms
        while not stop.is_set():
            wait = next_ms - now_ms()
            if wait > 0:
                await asyncio.sleep(wait / 1000)
            if stop.is_set():
                break
            t = now_ms()
            self.max_lag_ms = max(self.max_lag_ms, t - next_ms)
            self.seq += 1
            self.sent[self.seq] = t
            await ws.send(str(self.seq))
            next_ms += self.interval_ms
            # If the client itself fell behind, skip the slots it missed
            # rather than bursting (a burst would be the client's latency).
            behind = now_ms() - next_ms
            if behind > self.interval_ms:
                missed = int(behind // self.interval_ms)
                self.skipped += missed
                next_ms += missed * self.interval_ms

    async def recv_loop(self, ws):
        async for msg in ws:
            t = now_ms()
            sent = self.sent.pop(int(msg), None)
            if sent is not None:
                self.trips.append((sent, t))


def percentile(values, p):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def run(args):
    base = f"ws://{HOST}:{args.port}"
    opts = dict(ping_interval=None, compression=None, open_timeout=5, close_timeout=1)
    clients = [EchoClient(i, args.interval_ms) for i in range(args.clients)]
    conns = [await websockets.connect(f"{base}/echo/iso-{i}", **opts) for i in range(args.clients)]
    spin_ws = await websockets.connect(f"{base}/spin/iso", **opts)

    stop = asyncio.Event()
    start = now_ms() + 50
    tasks = []
    for c, ws in zip(clients, conns):
        phase = c.index * args.interval_ms / args.clients  # spread the sends over the interval
        tasks.append(asyncio.create_task(c.send_loop(ws, start + phase, stop)))
        tasks.append(asyncio.create_task(c.recv_loop(ws)))

    await asyncio.sleep(args.warmup_ms / 1000)
    spin_start = now_ms()
    await spin_ws.send(str(args.spin_ms))
    spin_end = None
    try:
        reply = await asyncio.wait_for(spin_ws.recv(), timeout=(args.spin_ms + args.spin_timeout_ms) / 1000)
        spin_end = now_ms()
        if reply != str(args.spin_ms):
            print(f"isolation_client: /spin answered {reply!r}", file=sys.stderr)
            spin_end = None
    except (asyncio.TimeoutError, websockets.ConnectionClosed) as e:
        print(f"isolation_client: no spin echo: {e!r}", file=sys.stderr)
    await asyncio.sleep(args.tail_ms / 1000)
    stop.set()
    stop_ms = now_ms()

    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in conns + [spin_ws]), return_exceptions=True)

    window_end = spin_end if spin_end is not None else stop_ms
    overlapping = []
    stalled = 0
    lines = []
    for c in clients:
        # In flight at some point of [spin_start, window_end]; unanswered ones
        # count with what they had waited when the run stopped.
        rtts = [r - s for s, r in c.trips if s <= window_end and r >= spin_start]
        rtts += [stop_ms - s for s in c.sent.values() if s <= window_end]
        overlapping += rtts
        worst = max(rtts, default=0.0)
        if worst > args.stall_ms:
            stalled += 1
        lines.append(
            f"client={c.index} overlapping={len(rtts)} worst_ms={worst:.1f} "
            f"unanswered={len(c.sent)} own_max_lag_ms={c.max_lag_ms:.1f} skipped={c.skipped}"
        )
    if args.verbose:
        print("\n".join(lines), file=sys.stderr)
    print(
        f"# isolation_client: overlapping_trips={len(overlapping)} "
        f"client_max_send_lag_ms={max(c.max_lag_ms for c in clients):.1f} "
        f"skipped_slots={sum(c.skipped for c in clients)}",
        file=sys.stderr,
    )
    p99 = percentile(overlapping, 99)
    spin_rtt = f"{spin_end - spin_start:.0f}" if spin_end is not None else "none"
    print(
        f"bench=isolation spin_ms={args.spin_ms} echo_clients={args.clients} "
        f"stalled_clients={stalled} others_p99_ms={'none' if p99 is None else f'{p99:.1f}'} "
        f"spin_rtt_ms={spin_rtt}{' ' + args.tag if args.tag else ''}",
        flush=True,
    )
    return 0 if spin_end is not None and p99 is not None else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--spin-ms", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--interval-ms", type=float, default=10)
    ap.add_argument("--warmup-ms", type=float, default=1000)
    ap.add_argument("--tail-ms", type=float, default=500)
    ap.add_argument("--stall-ms", type=float, default=100)
    ap.add_argument("--spin-timeout-ms", type=float, default=10000, help="beyond spin-ms")
    ap.add_argument("--tag", default="", help="appended to the line, e.g. isolation=on")
    ap.add_argument("--verbose", action="store_true", help="per-client details on stderr")
    args = ap.parse_args()
    if args.clients < 1 or args.interval_ms <= 0 or args.spin_ms < 0:
        ap.error("--clients >= 1, --interval-ms > 0, --spin-ms >= 0")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
