#!/usr/bin/env python3
"""iobench's external client models in Python: the talk's client side, speaking the
worker protocol (docs/worker-protocol.md) on stdin and stdout.

    python worker.py --model M [--pool-size N] [--processes N]

M is one of: sequential, threading, thread-pool, multiprocessing, asyncio, asyncio-uvloop.
Workloads: sleep, tcp-echo, http-get, postgres (query = "select-1"), redis
(command = "set-get"), in closed and open mode. Anything else is answered `setup_failed`.

The worker (Python 3.11 or later) loads its model's libraries, says `hello`, reads
`setup`, opens what its ops need, says `ready`, reads `go`, streams the ops that count,
and says `done` once everything it started has been joined. Logs go to stderr; stdout
carries frames only.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BLOCKING = ("sequential", "threading", "thread-pool", "multiprocessing")
ASYNC = ("asyncio", "asyncio-uvloop")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=BLOCKING + ASYNC)
    p.add_argument("--pool-size", type=int, default=64,
                   help="thread-pool: threads at most (default 64)")
    p.add_argument("--processes", type=int, default=64,
                   help="multiprocessing: processes at most (default 64)")
    return p.parse_args()


def main():
    args = parse_args()
    if sys.version_info < (3, 11):  # asyncio.timeout, asyncio.Runner, one TimeoutError
        sys.exit(f"worker.py needs Python 3.11 or later, not {sys.version.split()[0]}")
    # The model's libraries (and its workloads' clients) are loaded before `hello`, so
    # that the trial's idle footprint holds them: they are the model's fixed cost.
    from iobench_worker import protocol
    from iobench_worker.errors import SetupFailed
    from iobench_worker.spec import Spec

    if args.model in ASYNC:
        from iobench_worker import asyncio_model
        run = asyncio_model.run
    else:
        from iobench_worker import models
        run = models.MODELS[args.model]
    out = protocol.take_stdout()
    conv = protocol.Conversation(out)
    out.say({"type": "hello", "protocol": protocol.PROTOCOL})
    setup = protocol.read_line()
    try:
        if setup.get("type") != "setup":
            raise RuntimeError(f"expected setup, the trial sent {setup.get('type')!r}")
        if setup.get("protocol") != protocol.PROTOCOL:
            raise SetupFailed(f"this worker speaks protocol {protocol.PROTOCOL}, "
                              f"not {setup.get('protocol')}")
        spec = Spec(setup["workload"], setup.get("resolved"))
        run(conv, setup, spec, args)
    except SetupFailed as e:
        conv.setup_failed(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
