#!/usr/bin/env python3
"""Interop check with an independent WebSocket client (Debian's python3-websockets).

Usage: interop_client.py PORT
Talks to the test server's echo route and prints OK on success; any mismatch
exits non-zero with a message. Loopback only.
"""
import asyncio
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


async def main(port):
    base = "ws://127.0.0.1:%d" % port

    async with websockets.connect(base + "/echo/py-caf%C3%A9", max_size=None) as ws:
        await ws.send("h\u00e9llo")
        if await ws.recv() != "h\u00e9llo":
            fail("text echo")
        await ws.send(b"\x00\x01\xff")
        if await ws.recv() != b"\x00\x01\xff":
            fail("binary echo")
        big = "x" * 300000
        await ws.send(big)
        if await ws.recv() != big:
            fail("big echo")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 3)
        await ws.close(code=1000, reason="py done")

    for path, status in (("/nope/x", 404), ("/echo/a%20b", 400)):
        try:
            async with websockets.connect(base + path):
                fail(path + " must be refused")
        except InvalidStatusCode as e:
            if e.status_code != status:
                fail("%s gave %d, expected %d" % (path, e.status_code, status))

    async with websockets.connect(base + "/echo/oversize", max_size=None) as ws:
        try:
            await ws.send("y" * (2 * 1024 * 1024))
            await asyncio.wait_for(ws.recv(), 5)
            fail("oversize message was accepted")
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            if code != 1009:
                fail("oversize closed with %r, expected 1009" % code)

    print("OK")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(int(sys.argv[1])), 15))
