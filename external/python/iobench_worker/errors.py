"""Failed ops: [`OpError`] for what a workload finds itself, and [`classify`], which
names the kind of any exception an op raised, as docs/worker-protocol.md lists them."""

import asyncio

KINDS = ("timeout", "refused", "reset", "mismatch", "resource_exhausted", "other")


class OpError(Exception):
    """A failed op of a known kind, with its message."""

    def __init__(self, kind, why):
        super().__init__(why)
        self.kind = kind


def mismatch(why):
    return OpError("mismatch", why)


class SetupFailed(Exception):
    """The worker cannot run the workload: the reason goes in `setup_failed`."""


def _kind(e):
    """The kind of one exception, or None when it says nothing (its cause may)."""
    if isinstance(e, OpError):
        return e.kind
    # asyncio.TimeoutError and socket.timeout are TimeoutError since Python 3.11; a
    # blocking socket whose SO_RCVTIMEO expired raises BlockingIOError (EAGAIN).
    if isinstance(e, (TimeoutError, BlockingIOError)):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    # Reset, aborted, broken pipe; a peer that closed mid-reply.
    if isinstance(e, (ConnectionError, EOFError, asyncio.IncompleteReadError)):
        return "reset"
    if isinstance(e, OSError) and e.errno in (24, 23, 11, 12):  # EMFILE ENFILE EAGAIN ENOMEM
        return "resource_exhausted"
    if isinstance(e, MemoryError):
        return "resource_exhausted"
    return None


def classify(e):
    """(kind, message) of an exception an op raised: its own kind, else its cause's."""
    seen = e
    while seen is not None:
        kind = _kind(seen)
        if kind:
            return kind, describe(e)
        seen = seen.__cause__ or seen.__context__
    return "other", describe(e)


def describe(e):
    text = str(e).strip()
    if isinstance(e, OpError):
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
