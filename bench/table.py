#!/usr/bin/env python3
"""Side-by-side table of Troupe and its peers from `median ...` lines.

    python3 bench/table.py build/bench-results.txt build/peer-results.txt

Each row picks one metric of one workload configuration per peer; the
ratio is troupe/peer (inverted for times and sizes, so > 1 means Troupe
is better).
"""
import sys

# (label, metric, lower_is_better, {peer: {field: value}})
ROWS = [
    ("spawn 1M, processes ready/s", "ready_per_s", False,
     {"troupe": {"bench": "spawn", "n": "1000000", "sched": "2"},
      "erlang": {"bench": "spawn", "n": "1000000", "sched": "2"},
      "caf": {"bench": "spawn", "n": "1000000", "from": "main", "threads": "4"}}),
    ("memory per idle process, bytes", "bytes_per_proc", True,
     {"troupe": {"bench": "spawn", "n": "1000000", "sched": "2"},
      "erlang": {"bench": "spawn", "n": "1000000", "sched": "2"},
      "caf": {"bench": "spawn", "n": "1000000", "from": "main", "threads": "4"}}),
    ("ring 1000, hops/s", "hops_per_s", False,
     {"troupe": {"bench": "ring", "sched": "2"}, "erlang": {"bench": "ring", "sched": "2"},
      "caf": {"bench": "ring", "threads": "4"}}),
    ("ring 1000, hops/s (1 scheduler)", "hops_per_s", False,
     {"troupe": {"bench": "ring", "sched": "1"}, "erlang": {"bench": "ring", "sched": "1"},
      "caf": {"bench": "ring", "threads": "2"}}),
    ("pingpong round trip, ns", "rt_ns", True,
     {"troupe": {"bench": "pingpong", "sched": "2"}, "erlang": {"bench": "pingpong", "sched": "2"},
      "caf": {"bench": "pingpong", "threads": "4"}}),
    ("fan-in 1000 senders, msgs/s", "msgs_per_s", False,
     {"troupe": {"bench": "fanin", "sched": "2", "placement": None, "mode": None},
      "erlang": {"bench": "fanin", "sched": "2"}, "caf": {"bench": "fanin", "threads": "4"}}),
    ("fan-in 1000 senders, msgs/s (spread placement)", "msgs_per_s", False,
     {"troupe": {"bench": "fanin", "sched": "2", "placement": "spread"},
      "erlang": {"bench": "fanin", "sched": "2"}, "caf": {"bench": "fanin", "threads": "4"}}),
    ("fan-in with backpressure (bounded mailbox 100k), msgs/s", "msgs_per_s", False,
     {"troupe": {"bench": "fanin", "sched": "2", "mode": "bounded"},
      "erlang": {"bench": "fanin", "sched": "2"}, "caf": {"bench": "fanin", "threads": "4"}}),
    ("fan-in with backpressure, peak RSS, KB", "peak_rss_kb", True,
     {"troupe": {"bench": "fanin", "sched": "2", "mode": "bounded"},
      "erlang": {"bench": "fanin", "sched": "2"}, "caf": {"bench": "fanin", "threads": "4"}}),
    ("fan-in peak RSS, KB", "peak_rss_kb", True,
     {"troupe": {"bench": "fanin", "sched": "2", "placement": None, "mode": None},
      "erlang": {"bench": "fanin", "sched": "2"}, "caf": {"bench": "fanin", "threads": "4"}}),
    ("restarts/s, one crash at a time, 1000 workers", "restarts_per_s", False,
     {"troupe": {"bench": "sup", "mode": "seq", "sched": "2"}, "erlang": {"bench": "sup", "mode": "seq"},
      "caf": {"bench": "sup", "mode": "seq"}}),
    ("crash → restarted child answers by name, p50 µs", "restart_p50_us", True,
     {"troupe": {"bench": "sup", "mode": "seq", "sched": "2"}, "erlang": {"bench": "sup", "mode": "seq"},
      "caf": {"bench": "sup", "mode": "seq"}}),
    ("crash → restarted child answers by name, p99 µs", "restart_p99_us", True,
     {"troupe": {"bench": "sup", "mode": "seq", "sched": "2"}, "erlang": {"bench": "sup", "mode": "seq"},
      "caf": {"bench": "sup", "mode": "seq"}}),
    ("restarts/s, bursts of 1000", "restarts_per_s", False,
     {"troupe": {"bench": "sup", "mode": "burst", "sched": "2"}, "erlang": {"bench": "sup", "mode": "burst"},
      "caf": {"bench": "sup", "mode": "burst"}}),
    ("registry registrations/s, 100k names", "reg_per_s", False,
     {"troupe": {"bench": "registry", "sched": "2"}, "erlang": {"bench": "registry", "impl": "register"},
      "caf": {"bench": "registry"}}),
    ("registry lookups/s", "lookup_per_s", False,
     {"troupe": {"bench": "registry", "sched": "2"}, "erlang": {"bench": "registry", "impl": "register"},
      "caf": {"bench": "registry"}}),
]

PEERS = ["troupe", "erlang", "caf"]


def load(paths):
    lines = []
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.startswith("median "):
                    continue
                fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
                lines.append(fields)
    return lines


def find(lines, peer, want, metric):
    for fields in lines:
        if fields.get("peer") != peer or metric not in fields:
            continue
        if all((fields.get(k) == v) if v is not None else (k not in fields) for k, v in want.items()):
            return float(fields[metric])
    return None


def fmt(v):
    if v is None:
        return "—"
    if v >= 100000:
        return f"{v / 1e6:.2f}M"
    if v >= 1000:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}" if v >= 10 else f"{v:.2f}"


def main():
    lines = load(sys.argv[1:])
    print("| workload | Troupe | Erlang/OTP | CAF | ×Erlang | ×CAF |")
    print("|---|---|---|---|---|---|")
    for label, metric, lower, peers in ROWS:
        vals = {p: find(lines, p, peers[p], metric) for p in PEERS}
        ratios = []
        for p in ("erlang", "caf"):
            t, o = vals["troupe"], vals[p]
            if t and o:
                ratios.append(f"{(o / t) if lower else (t / o):.2f}")
            else:
                ratios.append("—")
        print(f"| {label} | {fmt(vals['troupe'])} | {fmt(vals['erlang'])} | {fmt(vals['caf'])} "
              f"| {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
