"""`asyncio` and `asyncio-uvloop`: `concurrency` tasks on one event loop (the standard
one, or uvloop's), each a lane running its ops back to back (closed mode) or when due
(open mode). They share one sink: the loop is one thread, so it takes no lock."""

import asyncio

from . import aio
from .lanes import Pace, lane_slots, mono, run_lane_async, sleep_until
from .errors import SetupFailed
from .sink import Sink, Usage

try:
    import uvloop
except ImportError as e:
    uvloop = None
    UVLOOP_MISSING = str(e)


async def _measure_from(usage, t):
    """Reads the CPU when the measured part of the window begins."""
    left = t - mono()
    if left > 0:
        await asyncio.sleep(left / 1e9)
    usage.begin()


async def _trial(conv, plan, spec):
    c = plan["concurrency"]
    slots = lane_slots(plan, c)
    lanes, shared = await aio.open_lanes(spec, c)
    # Reading `go` blocks the loop, which has nothing to run until the window opens.
    window = conv.ready()
    usage = Usage()
    sink = Sink(conv.out.write)
    rate = plan.get("rate")
    # A blocking sleep to the window's start: the loop's timer may round it.
    sleep_until(window.start)
    measuring = asyncio.create_task(_measure_from(usage, window.measure_from))
    tasks = [asyncio.create_task(run_lane_async(
        lane.op, window, sink, Pace(window, rate, *slots[j]) if rate else None))
        for j, lane in enumerate(lanes)]
    ends = await asyncio.gather(*tasks)
    measuring.cancel()
    sink.flush()
    used = usage.end()
    for lane in lanes:
        await lane.close()
    if shared is not None:
        await shared.close()
    conv.done(sink.counts(), used, max(ends))


def run(conv, plan, spec, args):
    """Runs the trial on a new loop (uvloop's with --model asyncio-uvloop)."""
    if args.model == "asyncio-uvloop":
        if uvloop is None:
            raise SetupFailed(f"uvloop is not installed here: {UVLOOP_MISSING}")
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_trial(conv, plan, spec))
