"""Where a lane's ops go ([`Sink`]), and what a worker measures of itself over the window
(its CPU, and the connections it opened)."""

import resource
import threading

from .protocol import BATCH, DROPPED, FAILED, HEAD, NONE, OP, OP_BYTES, OPS, UNFINISHED

LATE_NS = 1_000_000  # open mode: an op that starts more than 1 ms after its due time is late


class Sink:
    """The ops that count, batched 64 to an L frame, sent through `send` (one call per
    frame); failed ops' kinds and open mode's pacing are counted here and sent in `done`.
    A sink belongs to one lane, or to one event loop: it takes no lock."""

    __slots__ = ("buf", "n", "send", "errors", "first_error", "late_starts",
                 "pace_lag_ns", "paced", "last_end")

    def __init__(self, send):
        # The frame is built in place: its head, then room for a whole batch.
        self.buf = bytearray(HEAD.size + BATCH * OP_BYTES)
        HEAD.pack_into(self.buf, 0, OPS, BATCH * OP_BYTES)
        self.n = 0
        self.send = send
        self.errors = {}
        self.first_error = {}
        self.late_starts = 0
        self.pace_lag_ns = 0
        self.paced = 0
        self.last_end = 0

    def _push(self, first, second):
        n = self.n
        OP.pack_into(self.buf, HEAD.size + n * OP_BYTES, first, second)
        n += 1
        if n == BATCH:
            self.send(self.buf)  # os.write and send_bytes copy it before returning
            n = 0
        self.n = n

    def ok(self, ns, uncorrected=NONE):
        self._push(ns, uncorrected)

    def failed(self, ns, kind, why):
        self._push(ns, FAILED)
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.first_error.setdefault(kind, why)

    def dropped(self, lag_ns):
        self._push(lag_ns, DROPPED)

    def unfinished(self, lag_ns):
        self._push(lag_ns, UNFINISHED)

    def pacing(self, start, due, waited):
        """Open mode, for an op that counts: how late it started."""
        if start - due > LATE_NS:
            self.late_starts += 1
        if waited:
            self.pace_lag_ns += max(0, start - due)
            self.paced += 1

    def flush(self):
        """Sends the ops not sent yet (the lane has stopped)."""
        if self.n:
            size = HEAD.size + self.n * OP_BYTES
            HEAD.pack_into(self.buf, 0, OPS, self.n * OP_BYTES)
            self.send(memoryview(self.buf)[:size])
            HEAD.pack_into(self.buf, 0, OPS, BATCH * OP_BYTES)
            self.n = 0

    def counts(self):
        return {
            "errors": self.errors,
            "first_error": self.first_error,
            "late_starts": self.late_starts,
            "pace_lag_ns": self.pace_lag_ns,
            "paced": self.paced,
        }

    def merge(self, other):
        """Adds another sink's counts (given as `counts()` returns them) into this one's."""
        for kind, n in other["errors"].items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        for kind, why in other["first_error"].items():
            self.first_error.setdefault(kind, why)
        self.late_starts += other["late_starts"]
        self.pace_lag_ns += other["pace_lag_ns"]
        self.paced += other["paced"]


class Counter:
    """A count that threads share (connections opened, requests sent again)."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def note(self):
        with self.lock:
            self.n += 1


CONNECTS = Counter()
RETRIES = Counter()


def rusage(who=resource.RUSAGE_SELF):
    r = resource.getrusage(who)
    return {"user_secs": r.ru_utime, "sys_secs": r.ru_stime,
            "ctx_voluntary": r.ru_nvcsw, "ctx_involuntary": r.ru_nivcsw}


def since(now, then):
    """Usage between two `rusage()` readings."""
    return {k: max(0, now[k] - then[k]) for k in now}


def plus(a, b):
    return {k: a[k] + b[k] for k in a}


class Usage:
    """What this process used from one moment (`begin`, at measure_from) to another (`end`,
    once every lane has stopped): its CPU and context switches, and its connections."""

    def __init__(self):
        self.cpu0 = None
        self.counts0 = (0, 0)

    def begin(self):
        self.cpu0 = rusage()
        self.counts0 = (CONNECTS.n, RETRIES.n)

    def end(self, children_cpu=None):
        """The usage since `begin` (none, if it never began: no op started inside the
        window); `children_cpu` adds what joined children used over it."""
        if self.cpu0 is None:
            self.begin()
        cpu = since(rusage(), self.cpu0)
        if children_cpu:
            cpu = plus(cpu, children_cpu)
        return {
            "rusage": cpu,
            "counts": {"retries": RETRIES.n - self.counts0[1],
                       "connects": CONNECTS.n - self.counts0[0]},
        }
