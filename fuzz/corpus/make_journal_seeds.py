#!/usr/bin/env python3
"""Writes the journal target's seeds (fuzz/corpus/journal/): FileStore batch
journals (persist/detail/file_dir.cpp's layout) built here by hand, and the
target's structured batch inputs."""
import os
import struct

from seed_support import crc32c


def journal(ops):
    out = b"TRJ1" + struct.pack(">I", len(ops))
    for kind, revision, key, value in ops:
        out += kind + struct.pack(">QI", revision, len(key)) + key + struct.pack(">I", len(value)) + value
    return out + struct.pack(">I", crc32c(out))

def batch(cut, ops):
    out = b"\x01" + struct.pack(">H", cut)
    for delete, key, value, revision in ops:
        out += bytes([1 if delete else 0, len(key) - 1]) + key + bytes([len(value), revision - 1]) + value
    return out

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "journal")
os.makedirs(out, exist_ok=True)
two = [(b"p", 3, b"rooms/lobby", b"TRPS state"), (b"d", 0, b"counters/old", b"")]
whole = journal(two)
seeds = {
    "raw_whole": b"\x00" + whole,
    "raw_torn": b"\x00" + whole[: len(whole) // 2],
    "raw_empty_batch": b"\x00" + journal([]),
    "raw_bad_crc": b"\x00" + whole[:-1] + bytes([whole[-1] ^ 1]),
    "batch_whole": batch(0xFFFF, [(False, b"a", b"one", 2), (False, b"b/c", b"two", 5),
                                  (True, b"a", b"", 1)]),
    "batch_torn": batch(20, [(False, b"key", b"value", 1), (False, b"k2", b"v2", 9)]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
