"""The soak's accounting: what the clients sent and had acknowledged, and the
arithmetic that turns an observed value or history into lost and duplicated
operations, and checkpoint samples into fd and RSS growth. Pure: no I/O, no
clock (test_invariants.py tests it).

Counters. A counter's value is the number of distinct increment ids the
server applied (every increment is by 1, every id is unique in the run). So,
at any moment:
  lost       = acked ids the value does not cover  = max(0, acked - value)
  duplicated = value the distinct ids cannot cover = max(0, value - sent)
where `acked` counts the ids acknowledged before the value was read and
`sent` the distinct ids sent until it was. Once every client has drained its
unacknowledged increments, sent == acked and the value must equal both.

The server's dedupe (RecentIds in examples/server/protocol.hpp) remembers
the latest 256 ids applied to a counter. A retry is recognised only if fewer
than 256 other ids were applied since its original. RetryWindow keeps the
clients inside that promise: a new id may be sent to a counter only while it
is within `limit` ids of the oldest unacknowledged one. Every id applied
between an id X's first send and its acknowledgement was either unacked when
X was sent (at most limit - 1 below X) or sent before X's ack (at most
limit - 1 above X): at most 2 * (limit - 1) others, which is below 256 for
limit = 128.

Chat. Each nick sends one message at a time (the next only after the ack),
so its messages are committed in the order of their sequence numbers, and a
room's history (its latest 100 messages) holds a contiguous run of each
nick's latest committed messages. ChatLedger.check_history compares that run
with what was acknowledged.

Growth. Samples are taken at checkpoints at equal load (every client
connected, no fault active), each tagged with the server's pid. growth() is
the worst of: within one process lifetime, its last sample minus its first;
across lifetimes, the first sample of the last lifetime minus the first
sample of the first. A leak that accumulates shows in one of those; a
transient peak does not.
"""

DEDUPE_CAPACITY = 256  # RecentIds::capacity in examples/server/protocol.hpp
RETRY_LIMIT = 128      # 2 * (RETRY_LIMIT - 1) < DEDUPE_CAPACITY


class Violations:
    """Worst lost/duplicated figures seen per key (a counter or a nick)."""

    def __init__(self, report=None):
        self.lost = {}
        self.duplicated = {}
        self.first = []  # descriptions of the first few violations
        self.report = report  # called with each description as it happens

    def record(self, key, lost, duplicated, what):
        if lost > self.lost.get(key, 0):
            self.lost[key] = lost
        if duplicated > self.duplicated.get(key, 0):
            self.duplicated[key] = duplicated
        if lost or duplicated:
            text = "%s: lost=%d duplicated=%d (%s)" % (key, lost, duplicated, what)
            if len(self.first) < 10:
                self.first.append(text)
            if self.report:
                self.report(text)

    def totals(self):
        return sum(self.lost.values()), sum(self.duplicated.values())


def counter_check(value, acked_before, sent_now):
    """(lost, duplicated) for a counter read as `value`, with `acked_before`
    ids acknowledged before the read began and `sent_now` distinct ids sent
    when it returned."""
    return max(0, acked_before - value), max(0, value - sent_now)


class CounterLedger:
    """Ids sent and acknowledged per counter, in one process (the clients are
    coroutines of one event loop, so no locking)."""

    def __init__(self, violations):
        self.sent = {}    # counter -> set of ids
        self.acked = {}   # counter -> set of ids
        self.violations = violations

    def add_counter(self, counter):
        self.sent.setdefault(counter, set())
        self.acked.setdefault(counter, set())

    def record_sent(self, counter, op_id):
        self.sent[counter].add(op_id)

    def record_ack(self, counter, op_id):
        """True if this is the first ack of op_id."""
        if op_id in self.acked[counter]:
            return False
        self.acked[counter].add(op_id)
        return True

    def acked_count(self, counter):
        return len(self.acked[counter])

    def observe(self, counter, value, acked_before, what):
        lost, dup = counter_check(value, acked_before, len(self.sent[counter]))
        self.violations.record(counter, lost, dup, what)
        return lost, dup

    def total_acked(self):
        return sum(len(a) for a in self.acked.values())


class RetryWindow:
    """Per counter: the sequence number of each unacknowledged id, and whether
    a new id may be sent (module comment)."""

    def __init__(self, limit=RETRY_LIMIT):
        self.limit = limit
        self.next_seq = 0
        self.open = {}  # id -> sequence number

    def may_send(self):
        if not self.open:
            return True
        return self.next_seq - min(self.open.values()) < self.limit

    def sent(self, op_id):
        self.open[op_id] = self.next_seq
        self.next_seq += 1

    def acked(self, op_id):
        self.open.pop(op_id, None)


def chat_check(present, acked, history_full):
    """(lost, duplicated) for one nick from a history frame.

    present: the nick's sequence numbers in the history, in its order;
    acked: the set of the nick's acknowledged sequence numbers (before the
    history was read); history_full: the history holds its maximum number of
    messages (older ones were trimmed).
    """
    duplicated = len(present) - len(set(present))
    if present:
        oldest = min(present)
        lost = len([s for s in acked if s >= oldest and s not in present])
    elif history_full:
        lost = 0  # every message of this nick was trimmed: nothing to compare
    else:
        lost = len(acked)
    return lost, duplicated


class ChatLedger:
    def __init__(self, violations):
        self.acked = {}  # nick -> set of acked sequence numbers
        self.violations = violations

    def add_nick(self, nick):
        self.acked.setdefault(nick, set())

    def record_ack(self, nick, seq):
        if seq in self.acked[nick]:
            return False
        self.acked[nick].add(seq)
        return True

    def check_history(self, nick, present, acked_before, history_full, what):
        lost, dup = chat_check(present, acked_before, history_full)
        self.violations.record("chat:" + nick, lost, dup, what)
        return lost, dup

    def total_acked(self):
        return sum(len(a) for a in self.acked.values())


def growth(samples):
    """samples: [(pid, value)] in checkpoint order. See the module comment."""
    if not samples:
        return 0
    lifetimes = []  # [[values]] per pid, in order of first appearance
    pids = []
    for pid, value in samples:
        if not pids or pids[-1] != pid:
            pids.append(pid)
            lifetimes.append([])
        lifetimes[-1].append(value)
    worst = max(life[-1] - life[0] for life in lifetimes)
    worst = max(worst, lifetimes[-1][0] - lifetimes[0][0])
    return max(0, worst)
