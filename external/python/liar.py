#!/usr/bin/env python3
"""A worker that lies, for tests only: it speaks the worker protocol correctly but runs
no op. It says hello and ready, then claims --ops verified closed-mode ops of 1 ms each
(10,000 by default) without sending a single request, and says done. iobench's checks of
what a worker claims (the embedded target's count of the requests it answered; for
sleep, how many ops `concurrency` lanes can finish in the window) must fail the trial.

    python liar.py [--ops N]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from iobench_worker import protocol  # noqa: E402
from iobench_worker.lanes import mono, sleep_until  # noqa: E402
from iobench_worker.sink import Sink, Usage  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", type=int, default=10_000, help="ops to claim (default 10000)")
    args = p.parse_args()
    out = protocol.take_stdout()
    conv = protocol.Conversation(out)
    out.say({"type": "hello", "protocol": protocol.PROTOCOL})
    protocol.read_line()  # setup: whatever it is, the liar is "ready"
    window = conv.ready()
    usage = Usage()
    # The claims arrive over the window, as a real worker's would.
    sleep_until(window.measure_from)
    usage.begin()
    sink = Sink(out.write)
    span = window.measure_until - window.measure_from
    for i in range(args.ops):
        sink.ok(1_000_000)  # "a verified op of 1 ms"
        if i % 1000 == 999:
            sleep_until(window.measure_from + span * (i + 1) // args.ops)
    sink.flush()
    sleep_until(window.measure_until)
    conv.done(sink.counts(), usage.end(), mono())
    return 0


if __name__ == "__main__":
    sys.exit(main())
