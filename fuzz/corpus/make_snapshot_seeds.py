#!/usr/bin/env python3
"""Writes the snapshot target's seeds (fuzz/corpus/snapshot/): the envelope
of persist/snapshot_codec.hpp built here by hand, CRC32C included."""
import os
import struct

from seed_support import crc32c


def msgpack_uint(n):
    if n < 128:
        return bytes([n])
    if n < 1 << 32:
        return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)

def body(schema, revision, payload):
    return b"\x93" + msgpack_uint(schema) + msgpack_uint(revision) + b"\xc6" + struct.pack(">I", len(payload)) + payload

def envelope(version, b):
    out = b"TRPS" + struct.pack(">HI", version, len(b)) + b
    return out + struct.pack(">I", crc32c(out))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot")
os.makedirs(out, exist_ok=True)
ids = b"\x91\x92\xa2a1\xa2b2"  # RecentIds{ids: ["a1", "b2"]}
seeds = {
    "raw_v1": b"\x00" + envelope(1, body(1, 7, ids)),
    "raw_big_revision": b"\x00" + envelope(1, body(3, 1 << 40, b"\xc0")),
    "raw_not_snapshot": b"\x00{\"count\": 3}",
    "body_v1": b"\x01\x00\x01" + body(2, 5, ids),
    "body_v2": b"\x01\x00\x02" + body(2, 5, ids),
    "damage": b"\x02" + struct.pack(">IQIB", 2, 9, 13, 0x40) + ids,
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
