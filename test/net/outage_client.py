#!/usr/bin/env python3
"""A Redis outage under load, against the example server as `make run` serves
it in its Redis mode, with independent WebSocket clients (Debian's
python3-websockets).

Usage: outage_client.py SERVER_BINARY WWW_DIR CLIENTS OUTAGE_SECONDS

Starts a redis-server (append-only file, fsync always: what it acknowledged
survives it) and the example server on free loopback ports. CLIENTS clients
share CLIENTS/10 counters; each sends increments one at a time, each with its
own id, and sends the same id again after an error frame or a close (as a
real client retries) until it is acknowledged. Once every client has had an
acknowledgement, redis-server is killed for OUTAGE_SECONDS and started again
on its files. The clients go on throughout. Checks that:
  - every request got an answer (ack, error frame, close or refusal) within
    20 s: never silence;
  - every client finishes once Redis is back, with no restart of the server;
  - each counter's value equals the acknowledged increments sent to it:
    nothing acknowledged is lost, and no retry is applied twice;
  - /healthz answers 200 afterwards.
Prints OK and the figures on success; any failure exits non-zero.
"""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

from py_support import answers_ping, fail, free_port, wait_until

PER_CLIENT = 8          # increments each client gets acknowledged
ANSWER_WITHIN = 20.0    # seconds a request may wait for any answer


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


class Redis:
    def __init__(self, scratch):
        self.port = free_port()
        self.dir = scratch
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
            stdout=subprocess.DEVNULL)
        wait_until(lambda: answers_ping(self.port), "redis-server")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Stats:
    def __init__(self):
        self.acks = 0
        self.errors = 0
        self.closes = 0
        self.refusals = 0
        self.unanswered = []
        self.acked = {}  # room -> acknowledged increments
        self.worst_wait = 0.0


async def client(port, index, rooms, stats, first_ack):
    room = "r%d" % (index % rooms)
    url = "ws://127.0.0.1:%d/counter/%s" % (port, room)
    ws = None
    backoff = 0.05
    for k in range(PER_CLIENT):
        request = json.dumps({"type": "incr", "by": 1, "id": "c%d-%d" % (index, k)})
        while True:
            if ws is None:
                try:
                    ws = await asyncio.wait_for(websockets.connect(url), 5)
                    backoff = 0.05
                except Exception:  # refused (503), or the server is busy: come back later
                    stats.refusals += 1
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
                    continue
            sent = time.monotonic()
            try:
                await ws.send(request)
                answer = None
                while answer is None:
                    left = ANSWER_WITHIN - (time.monotonic() - sent)
                    if left <= 0:
                        stats.unanswered.append("%s id c%d-%d" % (room, index, k))
                        return
                    message = json.loads(await asyncio.wait_for(ws.recv(), left))
                    kind = message.get("type")
                    if kind == "ack" and message.get("id") == "c%d-%d" % (index, k):
                        answer = "ack"
                    elif kind == "error":
                        answer = "error"
                stats.worst_wait = max(stats.worst_wait, time.monotonic() - sent)
                if answer == "ack":
                    stats.acks += 1
                    stats.acked[room] = stats.acked.get(room, 0) + 1
                    first_ack.add(index)
                    break
                stats.errors += 1
                await asyncio.sleep(0.1)
            except asyncio.TimeoutError:
                stats.unanswered.append("%s id c%d-%d" % (room, index, k))
                return
            except websockets.ConnectionClosed:
                stats.worst_wait = max(stats.worst_wait, time.monotonic() - sent)
                stats.closes += 1
                ws = None
                await asyncio.sleep(backoff)
    if ws is not None:
        await ws.close()


async def value_of(port, room):
    async with websockets.connect("ws://127.0.0.1:%d/counter/%s" % (port, room)) as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message.get("type") == "value":
                return message["value"]


async def run(port, clients, outage, redis):
    rooms = max(1, clients // 10)
    stats = Stats()
    first_ack = set()
    tasks = [asyncio.create_task(client(port, i, rooms, stats, first_ack)) for i in range(clients)]
    # The outage begins once every client is served (or 10 s have passed).
    end = time.monotonic() + 10
    while len(first_ack) < clients and time.monotonic() < end:
        await asyncio.sleep(0.05)
    redis.kill()
    await asyncio.sleep(outage)
    redis.start()
    down_until = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*tasks), outage + 90)
    recovered = time.monotonic() - down_until
    if stats.unanswered:
        fail("%d requests got no answer within %.0f s, e.g. %s"
             % (len(stats.unanswered), ANSWER_WITHIN, stats.unanswered[:3]))
    if stats.acks != clients * PER_CLIENT:
        fail("%d of %d increments acknowledged" % (stats.acks, clients * PER_CLIENT))
    for r in range(rooms):
        room = "r%d" % r
        value = await value_of(port, room)
        if value != stats.acked.get(room, 0):
            fail("counter %s is %d, but %d increments were acknowledged"
                 % (room, value, stats.acked.get(room, 0)))
    return stats, recovered


def main(binary, www, clients, outage):
    with tempfile.TemporaryDirectory() as scratch:
        redis = Redis(scratch)
        redis.start()
        port = free_port()
        env = dict(os.environ, TROUPE_REDIS_URL="redis://127.0.0.1:%d/0" % redis.port,
                   TROUPE_LOG="quiet")
        server = subprocess.Popen(
            [binary, "--port=%d" % port, "--www=" + www,
             "--data-dir=" + os.path.join(scratch, "unused")],
            env=env, stdout=subprocess.DEVNULL)
        try:
            wait_until(lambda: health(port) == 200, "the example server")
            stats, recovered = asyncio.run(run(port, clients, outage, redis))
            if server.poll() is not None:
                fail("the example server exited with %d" % server.returncode)
            if health(port) != 200:
                fail("/healthz does not answer 200 after the outage")
            print("OK clients=%d outage_s=%s acks=%d errors=%d closes=%d refusals=%d "
                  "worst_answer_s=%.2f done_after_outage_s=%.1f"
                  % (clients, outage, stats.acks, stats.errors, stats.closes, stats.refusals,
                     stats.worst_wait, recovered))
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
            if redis.proc.poll() is None:
                redis.kill()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
