"""What the servers under test in this folder share: their command line, the bodies the
routes answer (iobench's expected_body, byte for byte), the echo frame's limits, and dying
with their parent.

Each server file is the program the talk would show, with these options around it.
"""

import argparse
import ctypes
import os
import resource
import signal
import sys

# iobench opens up to 1000 connections at once; the kernel caps this at somaxconn.
BACKLOG = 1024
# The echo frame: u32 little-endian payload length, u32 little-endian delay in
# microseconds (ignored here: these servers wait --delay), then the payload.
HEADER = 8
# Largest echo payload accepted, as iobench's own servers (a longer frame closes).
MAX_FRAME = 1 << 20
# Largest /bytes/{n} (iobench's MAX_BYTES).
MAX_BYTES = 64 << 20
ALPHABET = b"abcdefghijklmnopqrstuvwxyz"


def _bool(text):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _seconds(text):
    """A delay: seconds (0.01), or a number with a unit, as iobench writes it (10ms)."""
    number = text.rstrip("nmuµs")
    try:
        value = float(number) * _UNITS[text[len(number):]]
    except (KeyError, ValueError):
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"a delay is seconds (0.01) or 10ms, not {text!r}")
    return value


def _count(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {text!r}")
    return value


def parser(description, workers=False):
    """The options every server takes; `workers` adds --workers (pre-forked processes)."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    p.add_argument("--delay", type=_seconds, default=0.0, metavar="SECONDS",
                   help="seconds (or 10ms, 500us) the handler waits before each reply "
                   "(0: no wait at all)")
    p.add_argument("--keep-alive", type=_bool, default=True, metavar="true|false",
                   help="false: close the connection after each reply (default true)")
    if workers:
        p.add_argument("--workers", type=_count, default=1, metavar="N",
                       help="pre-forked processes (default 1)")
    return p


def bytes_body(n):
    """The body of /bytes/{n}: n bytes of a, b, ..., z, a, ... (None past MAX_BYTES)."""
    if n > MAX_BYTES:
        return None
    return (ALPHABET * (n // 26 + 1))[:n]


def route(path):
    """For the servers without a router: (body, content type) of a request's path (its
    bytes as latin-1 text, percent-escapes kept, without the query), or None."""
    if path == "/":
        return b"Hello, Anonymous", "text/plain; charset=utf-8"
    if path == "/json":
        return b'{"hello": "world"}', "application/json"
    if path.startswith("/bytes/") and path[7:].isdigit():
        body = bytes_body(int(path[7:]))
        return None if body is None else (body, "text/plain; charset=utf-8")
    if path.count("/") == 1:
        return b"Hello, " + path[1:].encode("latin-1"), "text/plain; charset=utf-8"
    return None


_PR_SET_PDEATHSIG = 1
_PR_GET_PDEATHSIG = 2


def die_with_parent(parent=None):
    """Has Linux send SIGTERM to this process when its parent exits (prctl
    PR_SET_PDEATHSIG), unless a signal is already set (iobench sets SIGKILL before it
    execs a server). A pre-forked child calls it with the master's pid, to catch a master
    that exited before the call. Linux sends it when the parent *thread* exits: fine for
    single-threaded masters like these. Elsewhere than Linux it does nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    current = ctypes.c_int(0)
    libc.prctl(_PR_GET_PDEATHSIG, ctypes.byref(current), 0, 0, 0)
    if current.value == 0:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def setup_process():
    """At a server's start: it dies with its parent (`die_with_parent`), and its soft limit
    on open files is raised to the hard one (1000 connections need more than the usual
    soft limit of 1024)."""
    die_with_parent()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def exit_on_sigterm():
    """For the servers whose framework does not: SIGTERM exits (status 0) through
    SystemExit, so that `with server:` closes the listening socket."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
