"""The soak's clients, all coroutines of the controller's event loop:

CounterClient  increments one shared counter, each increment with an id of
               its own, at most WINDOW unacknowledged at a time, and resends
               every unacknowledged one after a reconnect, an error frame or
               RESEND_AFTER seconds (so retries exercise the server's dedupe);
               checks the value the server sends on every connect.
ChatClient     says one message at a time in a chat room, resent the same
               way; checks the room's history on every connect and after
               every crash of the room (the server sends it again).
slow_consumer  a raw WebSocket that stops reading (its receive buffer shrunk
               first) while its room keeps broadcasting, then drops.
short_visit    a connection that reads the first frame and closes (churn).
crash_room     asks a chat room to crash ({"type":"crash"}, --demo-faults).
"""
import asyncio
import base64
import json
import os
import socket
import time

import websockets

WINDOW = 4              # unacknowledged increments per counter client
RESEND_AFTER = 15.0     # seconds without an answer before the same id is resent
ERROR_RETRY = 0.3       # seconds before an id refused with an error frame is resent
PACE = (0.02, 0.12)     # seconds between two sends of one client
CHAT_TEXT_BYTES = 1024  # padding, so slow consumers of a room fall behind fast
FIRST_FRAME_WITHIN = 10.0


class Unexpected(Exception):
    """The server broke its protocol (recorded, then the client reconnects)."""


async def connect(url):
    return await websockets.connect(url, open_timeout=5, close_timeout=1, ping_interval=None,
                                    max_size=4 << 20)


class Load:
    """What every client shares: where the server is, the ledgers, the seeded
    random source, and the phase (running, draining, stopping)."""

    def __init__(self, port, nonce, rng, counters, chats, breaks=None):
        self.port = port
        self.nonce = nonce
        self.rng = rng
        self.counters = counters  # invariants.CounterLedger
        self.chats = chats        # invariants.ChatLedger
        self.windows = {}         # counter -> invariants.RetryWindow
        self.draining = False     # no new operations; retries go on
        self.stopping = False
        self.breaks = breaks or set()
        self.resends = 0
        self.errors = 0
        self.connects = 0
        self.protocol_errors = []

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def pace(self):
        return self.rng.uniform(*PACE)


class Client:
    """Connect, run a session, reconnect with backoff until the load stops;
    the subclasses speak the protocols."""

    def __init__(self, load, path):
        self.load = load
        self.path = path
        self.ws = None
        self.connected = False
        self.connects = 0
        self.last_ack = 0.0
        self.last_connect = 0.0
        self.unacked = {}  # id -> when to (re)send it

    async def run(self):
        backoff = 0.05
        while not self.load.stopping:
            before = self.before_connect()
            try:
                ws = await connect(self.load.url(self.path))
            except asyncio.CancelledError:
                raise
            except Exception:  # refused, reset, 503 while starting: come back later
                await asyncio.sleep(backoff * (0.5 + self.load.rng.random()))
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            self.ws = ws
            try:
                await self.session(ws, before)
            except (websockets.ConnectionClosed, asyncio.TimeoutError, OSError):
                pass
            except (Unexpected, ValueError, KeyError) as e:
                self.load.protocol_errors.append("%s: %s" % (self.path, e))
            finally:
                self.ws = None
                self.connected = False
                ws.transport.abort()

    async def session(self, ws, before):
        first = json.loads(await asyncio.wait_for(ws.recv(), FIRST_FRAME_WITHIN))
        self.on_first(first, before)
        self.connected = True
        self.last_connect = time.monotonic()
        self.connects += 1
        self.load.connects += 1
        for op in self.unacked:  # everything unacknowledged goes again, same ids
            self.unacked[op] = 0.0
        writer = asyncio.create_task(self.writer(ws))
        try:
            async for raw in ws:
                self.on_frame(json.loads(raw))
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def writer(self, ws):
        try:
            await self.write(ws)
        except websockets.ConnectionClosed:
            pass  # the reader sees it too and reconnects

    async def write(self, ws):
        while True:
            now = time.monotonic()
            for op, at in list(self.unacked.items()):
                if at <= now and op in self.unacked:
                    self.unacked[op] = now + RESEND_AFTER
                    self.load.resends += 1
                    await ws.send(self.request(op))
            if not self.load.draining:
                op = self.next_op()
                if op is not None:
                    self.unacked[op] = time.monotonic() + RESEND_AFTER
                    await ws.send(self.request(op))
            await asyncio.sleep(self.load.pace())

    def on_error_frame(self, frame):
        op = frame.get("id")
        if op in self.unacked:
            self.load.errors += 1
            self.unacked[op] = time.monotonic() + ERROR_RETRY

    def settled_since(self, t, reconnected=False):
        """Connected (again after t if `reconnected`), and acknowledged
        something after t (or, draining, has nothing left to send)."""
        if not self.connected or (reconnected and self.last_connect <= t):
            return False
        return self.last_ack > t or (self.load.draining and not self.unacked)

    async def drop(self, abrupt):
        ws = self.ws
        if ws is None:
            return
        if abrupt:
            ws.transport.abort()
        else:
            await ws.close()


class CounterClient(Client):
    def __init__(self, load, index, counter):
        super().__init__(load, "/counter/" + counter)
        self.index = index
        self.counter = counter
        self.seq = 0
        self.window = load.windows[counter]
        self.first_acked = None  # (id, the counter's sequence number then), for --break=dup

    def before_connect(self):
        return self.load.counters.acked_count(self.counter)

    def on_first(self, frame, acked_before):
        if frame.get("type") != "value":
            raise Unexpected("first frame %r" % frame)
        self.load.counters.observe(self.counter, frame["value"], acked_before,
                                   "value on connect")

    def request(self, op):
        return json.dumps({"type": "incr", "by": 1, "id": op})

    def next_op(self):
        if len(self.unacked) >= WINDOW or not self.window.may_send():
            return None
        op = "%s-c%d-%d" % (self.load.nonce, self.index, self.seq)
        self.seq += 1
        self.load.counters.record_sent(self.counter, op)
        self.window.sent(op)
        return op

    def on_frame(self, frame):
        kind = frame.get("type")
        if kind == "ack":
            op = frame.get("id")
            if op in self.unacked:
                del self.unacked[op]
                self.window.acked(op)
                self.load.counters.record_ack(self.counter, op)
                self.last_ack = time.monotonic()
                self.broken_accounting(op)
        elif kind == "error":
            self.on_error_frame(frame)
        elif kind == "value":
            # Any later value may lag acks seen elsewhere (not a loss), but it
            # can never exceed the distinct ids sent.
            self.load.counters.observe(self.counter, frame["value"], 0, "value broadcast")

    def broken_accounting(self, op):
        """--break: prove the checker fails. lose: count an increment as
        acknowledged that was never sent. dup: send an acknowledged id again
        once 300 newer ids went to its counter, past the server's 256-id
        dedupe window, so the server really applies it twice."""
        if self.index != 0:
            return
        if "lose" in self.load.breaks:
            self.load.breaks.discard("lose")
            phantom = "%s-phantom" % self.load.nonce
            self.load.counters.record_sent(self.counter, phantom)
            self.load.counters.record_ack(self.counter, phantom)
        if "dup" in self.load.breaks:
            if self.first_acked is None:
                self.first_acked = (op, self.window.next_seq)
            elif self.window.next_seq - self.first_acked[1] > 300 and self.ws is not None:
                self.load.breaks.discard("dup")
                asyncio.ensure_future(self.ws.send(self.request(self.first_acked[0])))


class ChatClient(Client):
    def __init__(self, load, index, room):
        self.nick = "u%d" % index
        super().__init__(load, "/chat/%s?name=%s" % (room, self.nick))
        self.room = room
        self.seq = 0
        self.pad = "x" * CHAT_TEXT_BYTES
        load.chats.add_nick(self.nick)

    def before_connect(self):
        return None

    def check_history(self, frame, what):
        messages = frame.get("messages", [])
        present = []
        for m in messages:
            if m.get("from") == self.nick:
                present.append(int(m["text"].split(" ", 2)[1]))
        acked = set(self.load.chats.acked[self.nick])
        # The room keeps its latest 100 messages (ChatLimits::max_messages).
        lost, dup = self.load.chats.check_history(
            self.nick, present, acked, len(messages) >= 100,
            "%s; %d messages, this nick's %s..%s, acked %s..%s" % (
                what, len(messages), min(present, default=None), max(present, default=None),
                min(acked, default=None), max(acked, default=None)))
        return lost, dup

    def on_first(self, frame, _):
        if frame.get("type") != "history":
            raise Unexpected("first frame %r" % frame)
        self.check_history(frame, "history on connect")

    def request(self, op):
        seq = int(op.rsplit("-", 1)[1])
        return json.dumps({"type": "say", "id": op,
                           "text": "%s %d %s" % (self.nick, seq, self.pad)})

    def next_op(self):
        if self.unacked:  # one at a time: the history's order is the nick's order
            return None
        op = "%s-m-%d" % (self.load.nonce, self.seq)
        self.seq += 1
        return op

    def on_frame(self, frame):
        kind = frame.get("type")
        if kind == "ack":
            op = frame.get("id")
            if op in self.unacked:
                del self.unacked[op]
                self.load.chats.record_ack(self.nick, int(op.rsplit("-", 1)[1]))
                self.last_ack = time.monotonic()
        elif kind == "error":
            self.on_error_frame(frame)
        elif kind == "history":  # the room crashed and restarted under this connection
            self.check_history(frame, "history after a crash")
            for op in self.unacked:  # in case it died with the request in its mailbox
                self.unacked[op] = 0.0


async def slow_consumer(port, path, hold):
    """Opens a WebSocket by hand, then does not read for `hold` seconds."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.setblocking(False)
    writer = None
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 5)
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            return False
        writer.transport.pause_reading()  # from here on nothing is read
        await asyncio.sleep(hold)
        return True
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.transport.abort()
        else:
            sock.close()


async def visit(port, path, then=None):
    """Connects, waits for the first frame (the session is up), runs
    `then(ws)` if given, closes; True if all of it worked."""
    try:
        ws = await connect("ws://127.0.0.1:%d%s" % (port, path))
    except Exception:
        return False
    try:
        await asyncio.wait_for(ws.recv(), 5)
        if then is not None:
            await then(ws)
        await ws.close()
        return True
    except Exception:
        return False
    finally:
        ws.transport.abort()


async def short_visit(port, path):
    return await visit(port, path)


async def crash_room(port, room):
    """True once the crash request is sent (the room then restarts)."""
    return await visit(port, "/chat/%s?name=crasher" % room,
                       lambda ws: ws.send(json.dumps({"type": "crash"})))


async def read_counter(port, counter):
    ws = await connect("ws://127.0.0.1:%d/counter/%s" % (port, counter))
    try:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FIRST_FRAME_WITHIN))
        return frame["value"]
    finally:
        await ws.close()


async def read_history(port, room):
    ws = await connect("ws://127.0.0.1:%d/chat/%s?name=reader" % (port, room))
    try:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FIRST_FRAME_WITHIN))
        return frame
    finally:
        await ws.close()
