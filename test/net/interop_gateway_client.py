#!/usr/bin/env python3
"""The example server as `make run` serves it, in its Redis mode, driven by an
independent WebSocket client (Debian's python3-websockets).

Usage: interop_gateway_client.py SERVER_BINARY WWW_DIR
Starts a redis-server and the example server on free loopback ports, talks
the chat protocol through the gateway (history, broadcast, durable acks, an
error, a crash of the room mid-conversation: the client whose request
crashed it is closed with 1011, the other stays connected), restarts the server on the same Redis and checks the history is
back. Prints OK on success; any mismatch exits non-zero with a message.
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


def redis_keys(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"DBSIZE\r\n")
        return int(s.recv(32).strip().lstrip(b":"))


def healthy(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class ExampleServer:
    def __init__(self, binary, www, redis_url, unused_dir):
        self.binary, self.www, self.redis_url = binary, www, redis_url
        self.unused_dir = unused_dir
        self.port = free_port()
        self.proc = None

    def start(self):
        env = dict(os.environ, TROUPE_REDIS_URL=self.redis_url, TROUPE_LOG="quiet")
        self.proc = subprocess.Popen(
            [self.binary, "--port=%d" % self.port, "--www=" + self.www, "--demo-faults",
             "--data-dir=" + self.unused_dir],
            env=env, stdout=subprocess.DEVNULL)
        wait_until(lambda: healthy(self.port), "the example server")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        if self.proc.wait(timeout=15) != 0:
            fail("the example server exited with %d" % self.proc.returncode)


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def expect(ws, kind):
    message = await recv_json(ws)
    if message.get("type") != kind:
        fail("expected a %s, got %r" % (kind, message))
    return message


async def conversation(port):
    room = "ws://127.0.0.1:%d/chat/interop?name=" % port
    async with websockets.connect(room + "ann") as ann:
        # Ann is in the room once her history arrives; only then can she hear
        # of Bob joining.
        if (await expect(ann, "history"))["messages"] != []:
            fail("a new room has history")
        async with websockets.connect(room + "bob") as bob:
            await two_clients(room, ann, bob)
            await bad_nick(port)
            await bob.send(json.dumps({"type": "say", "text": "last", "id": "5"}))
            # The refused nick never joined: ann's next frame is bob's message.
            if (await expect(ann, "message"))["text"] != "last":
                fail("ann missed bob's last message")


async def two_clients(room, ann, bob):
    await expect(bob, "history")
    if (await expect(ann, "join"))["name"] != "bob":
        fail("ann did not see bob join")

    await ann.send(json.dumps({"type": "say", "text": "caf\u00e9", "id": "1"}))
    said = await expect(ann, "message")
    if (await expect(ann, "ack"))["id"] != "1":
        fail("ann's message was not acknowledged")
    heard = await expect(bob, "message")
    if heard != said or heard["from"] != "ann" or heard["text"] != "caf\u00e9":
        fail("bob heard %r, ann said %r" % (heard, said))

    await bob.send("{not json")
    await expect(bob, "error")

    # Dan crashes the room: his request was lost with it, so his socket is
    # closed with 1011; the gateway keeps Ann's and Bob's and hands them to
    # the restarted room, which sends its persisted history again.
    async with websockets.connect(room + "dan") as dan:
        await expect(dan, "history")
        for ws in (ann, bob):
            if (await expect(ws, "join"))["name"] != "dan":
                fail("dan's join was not heard")
        await dan.send(json.dumps({"type": "crash"}))
        try:
            await asyncio.wait_for(dan.recv(), 5)
            fail("dan's socket stayed open after his request crashed the room")
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1011:
                fail("dan's socket closed with %r, not 1011" % (closed.rcvd,))
    for ws in (ann, bob):
        texts = [m["text"] for m in (await expect(ws, "history"))["messages"]]
        if texts != ["caf\u00e9"]:
            fail("history after the crash: %r" % texts)
    await bob.send(json.dumps({"type": "say", "text": "still here", "id": "2"}))
    await expect(bob, "message")
    await expect(bob, "ack")
    if (await expect(ann, "message"))["text"] != "still here":
        fail("ann missed bob's message after the crash")

    # json.dumps sends an emoji as an escaped surrogate pair: the room joins
    # it. A lone surrogate is refused. Either way every frame stays valid
    # UTF-8 (an invalid one would close these sockets with 1007).
    await ann.send(json.dumps({"type": "say", "text": "\U0001F600", "id": "3"}))
    await expect(ann, "message")
    await expect(ann, "ack")
    if (await expect(bob, "message"))["text"] != "\U0001F600":
        fail("bob did not hear the emoji")
    await ann.send(json.dumps({"type": "say", "text": "\ud83d", "id": "4"}))
    if (await expect(ann, "error")).get("id") is not None:
        fail("an unparsable frame has no id to name")


async def bad_nick(port):
    # A nick that is not UTF-8: refused before the upgrade, or closed with 1008.
    try:
        async with websockets.connect("ws://127.0.0.1:%d/chat/interop?name=%%ff" % port) as bad:
            await asyncio.wait_for(bad.recv(), 5)
            fail("a %ff nick was let in")
    except websockets.ConnectionClosed as e:
        if e.rcvd is None or e.rcvd.code != 1008:
            fail("a %%ff nick was closed with %r, not 1008" % (e.rcvd,))
    except websockets.InvalidStatusCode:
        pass


async def after_restart(port):
    async with websockets.connect("ws://127.0.0.1:%d/chat/interop?name=cy" % port) as cy:
        texts = [m["text"] for m in (await expect(cy, "history"))["messages"]]
        if texts != ["caf\u00e9", "still here", "\U0001F600", "last"]:
            fail("history after the server restarted: %r" % texts)


def main(binary, www):
    redis_port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
             "--appendonly", "no", "--dir", scratch],
            stdout=subprocess.DEVNULL)
        server = None
        try:
            wait_until(lambda: answers_ping(redis_port), "redis-server")
            unused = os.path.join(scratch, "files")
            server = ExampleServer(binary, www, "redis://127.0.0.1:%d/0" % redis_port, unused)
            server.start()
            asyncio.run(asyncio.wait_for(conversation(server.port), 20))
            server.stop()
            server.start()
            asyncio.run(asyncio.wait_for(after_restart(server.port), 10))
            server.stop()
            # The state went to Redis, not to the embedded file store.
            if redis_keys(redis_port) == 0 or os.path.exists(unused):
                fail("the server did not keep its state in Redis")
            print("OK")
        finally:
            for p in (server.proc if server else None, redis):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
