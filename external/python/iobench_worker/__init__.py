"""The Python worker of iobench's external client models (docs/worker-protocol.md).

`worker.py` is the entry point; the modules here are its parts:

- `protocol`: frames out, JSON lines in, the op words and their markers.
- `sink`: the ops that count, batched into frames, and what is counted beside them.
- `spec`: a setup's workload read into what the ops need (durations, bytes, URLs).
- `errors`: failed ops and their kinds.
- `lanes`: one lane's loop of ops over the window, closed or open, blocking or async.
- `blocking`, `aio`: the workloads' sessions, for blocking models and for asyncio.
- `models`: the blocking models (sequential, threading, thread-pool, multiprocessing).
- `asyncio_model`: the asyncio and asyncio-uvloop models.
"""
