"""One lane's ops over the window, as docs/worker-protocol.md's `go` says (and as
src/model/driver/ runs them): in closed mode each op starts when the previous one ends;
in open mode each is due at its place in the schedule. Only ops that end inside
[measure_from, measure_until) are sent; a lane stops after its first op that ends at or
after measure_until, so no op is abandoned and nothing polls a stop flag."""

import asyncio
import time

from .errors import SetupFailed, classify
from .protocol import NONE

mono = time.monotonic_ns  # CLOCK_MONOTONIC, the trial's clock


def sleep_until(t):
    d = t - mono()
    if d > 0:
        time.sleep(d / 1e9)


class Pace:
    """Open mode: the schedule of lane `w` of `of` at `rate` ops/s in all. Op i of the
    warm-up is due at start + (i*of + w)/rate, op i of the measured part at
    measure_from + (i*of + w)/rate (src/model/driver/pace.rs)."""

    __slots__ = ("first", "every", "measured", "i", "measuring")

    def __init__(self, window, rate, w, of):
        self.first = window.start + int(w / rate * 1e9)
        self.every = max(1, int(of / rate * 1e9))
        self.measured = window.measure_from + (self.first - window.start)
        self.i = 0
        self.measuring = False

    def next_due(self, now):
        # The measured part starts a schedule of its own: a backlog of the warm-up is not
        # carried into the window.
        if not self.measuring and (self.first + self.i * self.every >= self.measured
                                   or now >= self.measured):
            self.measuring, self.i = True, 0
        due = (self.measured if self.measuring else self.first) + self.i * self.every
        self.i += 1
        return due

    def unstarted(self, until):
        """The latency at `until` of each measured op due before it that never started."""
        j = self.i if self.measuring else 0
        due = self.measured + j * self.every
        while due < until:
            yield until - due
            due += self.every


def lane_slots(plan, executors):
    """Open mode: each executor's place (w, of) in the trial's schedule. With one per lane
    (`concurrency` of them) it is lane `first + j` of `of`, as the protocol says; a model
    with fewer executors than lanes (a pool, processes, one at a time) runs the whole
    model's schedule, op n due at n/rate, spread over its executors in turn."""
    c = plan["concurrency"]
    first, of = plan.get("first", 0), plan.get("of", c)
    if executors == c:
        return [(first + j, of) for j in range(c)]
    if plan.get("rate") is not None and (first, of) != (0, c):
        raise SetupFailed(f"open mode with {executors} executors for lanes {first}.. of "
                          f"{of}: this worker only splits a whole model's schedule")
    return [(e, executors) for e in range(executors)]


def observe(sink, mf, mu, start, end, err, due, waited):
    """Records one op if it counts; True when the lane should stop. `due` is None in
    closed mode."""
    if end < mf:
        return False
    if end < mu:
        if due is None:
            latency, uncorrected = end - start, NONE
        else:
            latency, uncorrected = end - due, end - start
            sink.pacing(start, due, waited)
        if err is None:
            sink.ok(latency, uncorrected)
        else:
            kind, why = classify(err)
            sink.failed(latency, kind, why)
        return False
    if start < mf:
        # In flight for the whole window: counted at the age it had reached at its end.
        sink.unfinished(mu - (start if due is None else due))
    return True


def stop(sink, pace, mu, end):
    """What every lane does as it stops: its unstarted ops, then its last op's end."""
    if pace is not None:
        for lag in pace.unstarted(mu):
            sink.dropped(lag)
    sink.last_end = max(sink.last_end, end)


def run_lane(op, window, sink, pace=None, on_measure=None):
    """A blocking lane: `op(start)` raises on failure. `on_measure` is called once, before
    the first op that starts inside the window. Returns its last op's end."""
    mf, mu = window.measure_from, window.measure_until
    sleep_until(window.start)
    end, due, waited = window.start, None, False
    while True:
        if pace is not None:
            now = mono()
            due = pace.next_due(now)
            waited = due > now
            while now < due:
                time.sleep((due - now) / 1e9)
                now = mono()
        start = mono()
        if on_measure is not None and start >= mf:
            on_measure()
            on_measure = None
        try:
            op(start)
            err = None
        except Exception as e:  # the op's failure, recorded by its kind
            err = e
        end = mono()
        if observe(sink, mf, mu, start, end, err, due, waited):
            break
    stop(sink, pace, mu, end)
    return end


async def run_lane_async(op, window, sink, pace=None):
    """An asyncio lane: `await op(start)` raises on failure."""
    mf, mu = window.measure_from, window.measure_until
    end, due, waited = window.start, None, False
    while True:
        if pace is not None:
            now = mono()
            due = pace.next_due(now)
            waited = due > now
            while now < due:  # uvloop's millisecond timers may wake a little early
                await asyncio.sleep((due - now) / 1e9)
                now = mono()
        start = mono()
        try:
            await op(start)
            err = None
        except Exception as e:  # CancelledError is not an Exception: it ends the lane
            err = e
        end = mono()
        if observe(sink, mf, mu, start, end, err, due, waited):
            break
    stop(sink, pace, mu, end)
    return end
