"""The blocking models. Each opens its lanes' sessions (and a database's pool) in setup,
starts its threads or processes, says `ready`, runs the window and sends `done` once
everything it started has been joined.

- `sequential`: one op at a time, whatever the concurrency, in the main thread.
- `threading`: a thread per lane, `concurrency` of them, each running ops back to back.
- `thread-pool`: a `ThreadPoolExecutor` of min(concurrency, --pool-size) threads and as
  many clients; each op is a job, and its end submits the client's next one (latency runs
  from submission, so the pool's dispatch is measured), as iobench's thread-pool does.
- `multiprocessing`: min(concurrency, --processes) pre-forked processes (never more than a
  database's pool_max, whose connections they split), one op at a time each. Each streams
  its frames through a pipe of its own; the parent forwards them to the trial.
"""

import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from .blocking import Lanes
from .errors import SetupFailed
from .lanes import Pace, lane_slots, mono, observe, run_lane, sleep_until, stop
from .protocol import OPS, Window, message
from .sink import Sink, Usage, rusage, since
from .spec import share


def _paces(plan, window, slots):
    rate = plan.get("rate")
    return [Pace(window, rate, w, of) if rate else None for w, of in slots]


def sequential(conv, plan, spec, args):
    slots = lane_slots(plan, 1)
    lanes = Lanes(spec)
    session = lanes.lane()
    c = plan["concurrency"]
    window = conv.ready(in_flight=1 if c > 1 else None)
    sink, usage = Sink(conv.out.write), Usage()
    # Its CPU from the first op that starts inside the window, as iobench's own workers.
    end = run_lane(session.op, window, sink, _paces(plan, window, slots)[0],
                   on_measure=usage.begin)
    sink.flush()
    used = usage.end()
    session.close()
    lanes.close()
    conv.done(sink.counts(), used, end)


class Gate:
    """Holds `n` started threads until the window opens (or setup fails: None), then lets
    them go one after another, each released by the one before it. One Event would wake
    them all at once: 10,000 threads then fight over its lock and the GIL, and the last
    starts half a minute later (33 s measured here), a cost of the harness's gate and not
    of the model; the chain releases 10,000 in about 0.2 s."""

    def __init__(self, n):
        self.locks = [threading.Lock() for _ in range(n + 1)]
        for lock in self.locks:
            lock.acquire()
        self.window = None
        self.paces = None

    def wait(self, j):
        self.locks[j].acquire()
        self.locks[j + 1].release()

    def open(self, window, paces=None):
        self.window, self.paces = window, paces
        self.locks[0].release()


def _finish(conv, sinks, usage, last_end, children_cpu=None):
    total = Sink(None)
    for s in sinks:
        total.merge(s.counts())
    conv.done(total.counts(), usage.end(children_cpu), last_end)


def threads(conv, plan, spec, args):
    c = plan["concurrency"]
    slots = lane_slots(plan, c)
    lanes = Lanes(spec)
    sessions = [lanes.lane() for _ in range(c)]
    sinks = [Sink(conv.out.write) for _ in range(c)]
    gate = Gate(c)

    def lane(j):
        gate.wait(j)
        if gate.window is not None:
            run_lane(sessions[j].op, gate.window, sinks[j], gate.paces[j])
            sinks[j].flush()

    started = []
    try:
        for j in range(c):
            t = threading.Thread(target=lane, args=(j,), name=f"lane-{j}", daemon=True)
            t.start()
            started.append(t)
    except RuntimeError as e:  # "can't start new thread"
        gate.open(None)
        for t in started:
            t.join()
        raise SetupFailed(f"resource_exhausted: could not start thread {len(started) + 1} "
                          f"of {c}: {e}") from None
    window = conv.ready()
    usage = Usage()
    gate.open(window, _paces(plan, window, slots))
    sleep_until(window.measure_from)
    usage.begin()
    for t in started:
        t.join()
    for s in sessions:
        s.close()
    lanes.close()
    _finish(conv, sinks, usage, max(s.last_end for s in sinks))


def thread_pool(conv, plan, spec, args):
    c = plan["concurrency"]
    n = max(1, min(c, args.pool_size))
    slots = lane_slots(plan, n)
    lanes = Lanes(spec)
    sessions = [lanes.lane() for _ in range(n)]
    sinks = [Sink(conv.out.write) for _ in range(n)]
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="pool")
    # The executor starts a thread per job while none is idle: n jobs that wait for one
    # another start all n before `ready`.
    started = threading.Barrier(n + 1)
    try:
        for _ in range(n):
            pool.submit(started.wait)
    except RuntimeError as e:  # "can't start new thread"
        started.abort()
        pool.shutdown(wait=True)
        raise SetupFailed(f"resource_exhausted: could not start {n} pool threads: {e}") from None
    started.wait()
    window = conv.ready(in_flight=n if n < c else None)
    paces = _paces(plan, window, slots)
    mf, mu = window.measure_from, window.measure_until
    left = [n]
    lock = threading.Lock()
    all_done = threading.Event()

    def finished(j, end):
        stop(sinks[j], paces[j], mu, end)
        sinks[j].flush()
        with lock:
            left[0] -= 1
            if left[0] == 0:
                all_done.set()

    def job(j, submitted):
        try:
            pace, due, waited, start = paces[j], None, False, submitted
            if pace is not None:  # open mode: the job waits, on its pool thread, until due
                now = mono()
                due = pace.next_due(now)
                waited = due > now
                while now < due:
                    sleep_until(due)
                    now = mono()
                start = mono()
            try:
                sessions[j].op(start)
                err = None
            except Exception as e:
                err = e
            end = mono()
            if observe(sinks[j], mf, mu, start, end, err, due, waited):
                finished(j, end)
            else:
                pool.submit(job, j, mono())
        except BaseException:  # a bug: said on stderr, and the lane ends
            traceback.print_exc()
            finished(j, mono())

    usage = Usage()
    sleep_until(window.start)
    for j in range(n):
        pool.submit(job, j, mono())
    sleep_until(mf)
    usage.begin()
    all_done.wait()
    pool.shutdown(wait=True)
    for s in sessions:
        s.close()
    lanes.close()
    _finish(conv, sinks, usage, max(s.last_end for s in sinks))


def _die_with_parent():
    """A child the trial's kill of its parent would leave behind dies with it."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def _child(i, k, spec, plan, conn, close_fds):
    """Process i of k: its share of a database's pool, one lane; frames go to the parent."""
    _die_with_parent()
    for fd in close_fds:  # only the parent speaks to the trial
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        lanes = (Lanes(spec, share(spec.pool_min, i, k), share(spec.pool_max, i, k))
                 if spec.database else Lanes(spec))
        session = lanes.lane()
    except SetupFailed as e:
        conn.send_bytes(message({"type": "setup_failed", "error": str(e)}))
        return
    conn.send_bytes(message({"type": "ready"}))
    go = conn.recv()
    if go is None:
        return
    window, slot = Window(go[0]), go[1]
    rate = plan.get("rate")
    sink, usage = Sink(conn.send_bytes), Usage()
    end = run_lane(session.op, window, sink, Pace(window, rate, *slot) if rate else None,
                   on_measure=usage.begin)
    sink.flush()
    used = usage.end()
    # Its CPU before the window, which the parent takes out of RUSAGE_CHILDREN.
    conn.send_bytes(message({"type": "done", "counts": sink.counts(), "cpu0": usage.cpu0,
                             "usage_counts": used["counts"], "last_end": end}))
    session.close()
    lanes.close()


def processes(conv, plan, spec, args):
    c = plan["concurrency"]
    k = max(1, min(c, args.processes, spec.pool_max if spec.database else c))
    slots = lane_slots(plan, k)
    # Forked, as gunicorn's workers are: a child starts with what the parent has loaded.
    ctx = multiprocessing.get_context("fork")
    procs, conns = [], []

    def abandon():
        for conn in conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for p in procs:
            p.join()

    try:
        for i in range(k):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_child, name=f"lane-{i}", daemon=True,
                            args=(i, k, spec, plan, theirs,
                                  [conv.out.fd] + [o.fileno() for o in conns]))
            p.start()
            theirs.close()
            procs.append(p)
            conns.append(mine)
    except OSError as e:
        abandon()
        raise SetupFailed(f"resource_exhausted: could not start process {len(procs) + 1} "
                          f"of {k}: {e}") from None
    for i, conn in enumerate(conns):
        try:
            answer = json.loads(conn.recv_bytes()[5:])
        except EOFError:
            answer = {"type": "setup_failed", "error": f"process {i} exited in its setup"}
        if answer["type"] != "ready":
            abandon()
            raise SetupFailed(f"worker process {i} of {k}: {answer['error']}")
    window = conv.ready(in_flight=k if k < c else None)
    for conn, slot in zip(conns, slots):
        conn.send((window.as_dict(), slot))
    usage, children0 = Usage(), None
    total, cpu0s, counts, last_end = Sink(None), [], [], 0
    pending = dict(zip(conns, range(k)))
    while pending:
        timeout = None
        if usage.cpu0 is None:
            left = window.measure_from - mono()
            if left <= 0:
                usage.begin()
                children0 = rusage(resource.RUSAGE_CHILDREN)  # of children joined before
            else:
                timeout = left / 1e9
        for conn in multiprocessing.connection.wait(list(pending), timeout):
            try:
                data = conn.recv_bytes()
            except EOFError:
                raise RuntimeError(f"worker process {pending[conn]} exited during the trial "
                                   f"({procs[pending[conn]].exitcode})") from None
            if data[0] == OPS:
                conv.out.write(data)
                continue
            done = json.loads(data[5:])
            total.merge(done["counts"])
            cpu0s.append(done["cpu0"])
            counts.append(done["usage_counts"])
            last_end = max(last_end, done["last_end"])
            del pending[conn]
    for p in procs:
        p.join()
    if children0 is None:
        usage.begin()
        children0 = rusage(resource.RUSAGE_CHILDREN)
    # What the joined children used over the window: all they used, less what they had
    # used before their first op inside it.
    children = since(rusage(resource.RUSAGE_CHILDREN), children0)
    for cpu0 in cpu0s:
        children = since(children, cpu0)
    used = usage.end(children)
    for n in counts:
        for key in used["counts"]:
            used["counts"][key] += n[key]
    conv.done(total.counts(), used, last_end)


MODELS = {
    "sequential": sequential,
    "threading": threads,
    "thread-pool": thread_pool,
    "multiprocessing": processes,
}
