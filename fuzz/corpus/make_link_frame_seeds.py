#!/usr/bin/env python3
"""Writes the link_frame target's seeds (fuzz/corpus/link_frame/): frames of
cluster/link/frame.hpp built here by hand (u32 big-endian length, then the
msgpack array [type, conn, num, text, data]). A stream seed starts with
0x00 (stream mode), 0xff (the default max_frame_bytes) and a chunking byte;
a built seed with 0x01 then the frame's parts."""
import os
import struct

TYPES = ["hello", "open", "frame", "close", "out_frame", "out_close", "progress",
         "refused", "send", "ping", "pong"]


def uint(n):
    if n < 128:
        return bytes([n])
    if n < 1 << 32:
        return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)


def frame(kind, conn, num, text, data):
    body = (b"\x95" + uint(kind) + uint(conn) + uint(num) + b"\xd9" + bytes([len(text)]) + text
            + b"\xc4" + bytes([len(data)]) + data)
    return struct.pack(">I", len(body)) + body


def stream(frames, chunking=7):
    return b"\x00\xff" + bytes([chunking]) + b"".join(frames)


hello_data = b"\x92\x01\xa6troupe"  # [version 1, cluster "troupe"]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "link_frame")
os.makedirs(out, exist_ok=True)
seeds = {}
for i, name in enumerate(TYPES, start=1):
    text, data = (b"n1", hello_data) if name == "hello" else (b"chat/lobby", b"\x00hi\xff")
    seeds["type_" + name] = stream([frame(i, 42 * i, 1 << (3 * i), text, data)])
whole = frame(3, 7, 1, b"room", b"payload")
seeds["two_frames"] = stream([frame(2, 1, 0, b"chat/lobby", b""), whole], chunking=3)
seeds["truncated"] = stream([whole[: len(whole) - 3]])
seeds["oversize"] = b"\x00\x10\x01" + struct.pack(">I", 0x7FFFFFFF) + b"\x95"
seeds["built_open"] = b"\x01\x01" + struct.pack(">QQ", 5, 9) + b"\x04roomdata"
for name, content in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(content)
