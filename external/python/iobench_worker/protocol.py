"""The wire format of docs/worker-protocol.md, version 1.

Worker -> trial: frames on stdout, each a kind byte, the payload's length as a
little-endian u32, then the payload: `J` a JSON message, `L` a batch of ops of 16 bytes
(two little-endian u64: a latency in ns, then a marker or an uncorrected latency).
Trial -> worker: one JSON object per line on stdin, read a byte at a time so that
nothing past a line is consumed.
"""

import json
import os
import struct
import threading

PROTOCOL = 1

JSON = 0x4A  # b"J"
OPS = 0x4C  # b"L"
HEAD = struct.Struct("<BI")
OP = struct.Struct("<QQ")
OP_BYTES = OP.size
BATCH = 64  # ops per L frame, as iobench's own workers send them

# The second word of an op.
NONE = 2**64 - 1  # a verified closed-mode op
FAILED = 2**64 - 2  # a failed op (its kind is counted in `done`)
DROPPED = 2**64 - 3  # open mode: due in the window, never started
UNFINISHED = 2**64 - 4  # in flight for the whole measured window


def frame(kind, payload):
    """One whole frame."""
    return HEAD.pack(kind, len(payload)) + payload


def message(obj):
    """A J frame carrying `obj`."""
    return frame(JSON, json.dumps(obj, separators=(",", ":")).encode())


class Out:
    """The pipe to the trial. Frames are written whole, each with one write (a lock keeps
    threads' frames apart; a partial write is finished before the lock is let go)."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()

    def write(self, data):
        with self.lock:
            n = os.write(self.fd, data)
            if n < len(data):
                view = memoryview(data)
                while n < len(view):
                    n += os.write(self.fd, view[n:])

    def say(self, obj):
        self.write(message(obj))


def take_stdout():
    """The pipe to the trial, kept on a descriptor of its own; fd 1 and `sys.stdout` are
    pointed at stderr, so that a stray print from a library cannot corrupt the frames."""
    import sys

    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Out(fd)


def read_line(fd=0):
    """The next JSON line from the trial, read a byte at a time (nothing past it is
    consumed). EOFError when the trial closed the pipe."""
    line = bytearray()
    while True:
        b = os.read(fd, 1)
        if not b:
            raise EOFError("the trial closed stdin")
        if b == b"\n":
            return json.loads(line)
        line += b


class Window:
    """The go message's window (CLOCK_MONOTONIC ns): warm-up from `start`, ops ending in
    [measure_from, measure_until) count."""

    __slots__ = ("start", "measure_from", "measure_until")

    def __init__(self, w):
        self.start = int(w["start"])
        self.measure_from = int(w["measure_from"])
        self.measure_until = int(w["measure_until"])

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


class Conversation:
    """The worker's side of docs/worker-protocol.md's conversation, after `setup`."""

    def __init__(self, out):
        self.out = out

    def ready(self, in_flight=None):
        """Says `ready` (with `in_flight` when fewer ops than `concurrency` are kept in
        flight) and waits for `go`; returns its window."""
        msg = {"type": "ready"}
        if in_flight is not None:
            msg["in_flight"] = in_flight
        self.out.say(msg)
        go = read_line()
        if go.get("type") != "go":
            raise RuntimeError(f"expected go, the trial sent {go.get('type')!r}")
        if go["window"].get("count") is not None:
            raise RuntimeError("a counted window: iobench's own models run those")
        return Window(go["window"])

    def setup_failed(self, why):
        self.out.say({"type": "setup_failed", "error": why})

    def done(self, counts, usage, last_end):
        self.out.say({"type": "done", "counts": counts, "usage": usage,
                      "last_end": int(last_end)})
