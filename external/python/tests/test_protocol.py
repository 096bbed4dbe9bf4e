"""worker.py against docs/worker-protocol.md: each test runs the worker as a subprocess,
plays the trial's side (reads hello, sends setup and go, reads frames until done) and
checks every frame, the ops' words and markers, how many ops there are and `done`.

    python -m unittest discover -s external/python/tests

Targets come from `target/debug/iobench serve echo|http` (skipped without the binary);
the databases from `scripts/services.sh up` (skipped when they cannot be reached).
"""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PYDIR))
WORKER = os.path.join(PYDIR, "worker.py")
LIAR = os.path.join(PYDIR, "liar.py")
IOBENCH = os.environ.get("IOBENCH_BIN") or os.path.join(ROOT, "target", "debug", "iobench")

MODELS = ("sequential", "threading", "thread-pool", "multiprocessing", "asyncio",
          "asyncio-uvloop")
BLOCKING = MODELS[:4]
KINDS = {"timeout", "refused", "reset", "mismatch", "resource_exhausted", "other"}
NONE, FAILED, DROPPED, UNFINISHED = 2**64 - 1, 2**64 - 2, 2**64 - 3, 2**64 - 4
MS = 1_000_000


class Result:
    """What one trial saw: the ready (or setup_failed) message, the ops, done."""

    def __init__(self):
        self.answer = None
        self.ops = []
        self.frames = 0
        self.done = None
        self.window = None

    def count(self, marker):
        return sum(1 for _, m in self.ops if m == marker)

    @property
    def ok(self):
        return sum(1 for _, m in self.ops if m == NONE or m < UNFINISHED)

    @property
    def in_flight(self):
        return self.answer.get("in_flight")


class Trial:
    """The trial's side of the conversation, checking each frame as it arrives."""

    def __init__(self, test, model, workload, target=None, concurrency=8, warmup_ms=100,
                 window_ms=300, rate=None, extra=(), protocol=1):
        self.test = test
        self.argv = [sys.executable, WORKER, "--model", model, *extra]
        self.setup = {"type": "setup", "protocol": protocol, "workload": workload,
                      "resolved": {"target": target} if target else {},
                      "concurrency": concurrency, "tasks": False, "first": 0,
                      "of": concurrency, "rate": rate}
        self.warmup, self.window = warmup_ms * MS, window_ms * MS
        self.rate = rate

    def frame(self):
        head = self.proc.stdout.read(5)
        if not head:
            return None
        self.test.assertEqual(len(head), 5, "a frame's head is 5 bytes")
        kind, n = struct.unpack("<BI", head)
        self.test.assertIn(kind, (0x4A, 0x4C), f"frame kind {kind:#x}")
        self.test.assertLessEqual(n, 1 << 20, "a payload is at most 1 MiB")
        payload = self.proc.stdout.read(n)
        self.test.assertEqual(len(payload), n, "a whole payload")
        return kind, payload

    def message(self):
        f = self.frame()
        self.test.assertIsNotNone(f, "the worker closed stdout early")
        kind, payload = f
        self.test.assertEqual(kind, 0x4A, "a message (J) was due")
        return json.loads(payload)

    def send(self, obj):
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def run(self, timeout=60):
        r = Result()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        killer = threading.Timer(timeout, self.proc.kill)
        killer.start()
        try:
            self.converse(r)
            rest = self.proc.stdout.read()
            self.test.assertEqual(rest, b"", "nothing after done")
            self.proc.stdin.close()
            rc = self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace")
            self.test.assertEqual(rc, 0, f"exit status; stderr:\n{err[-3000:]}")
        finally:
            killer.cancel()
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if not f.closed:
                    f.close()
        return r

    def converse(self, r):
        self.test.assertEqual(self.message(), {"type": "hello", "protocol": 1})
        self.send(self.setup)
        r.answer = self.message()
        self.test.assertIn(r.answer["type"], ("ready", "setup_failed"))
        if r.answer["type"] == "setup_failed":
            self.test.assertIsInstance(r.answer["error"], str)
            self.test.assertTrue(r.answer["error"])
            return
        if "in_flight" in r.answer:
            self.test.assertTrue(1 <= r.answer["in_flight"] < self.setup["concurrency"])
        now = time.monotonic_ns()
        r.window = {"start": now, "measure_from": now + self.warmup,
                    "measure_until": now + self.warmup + self.window}
        self.send({"type": "go", "window": r.window})
        longest = self.warmup + self.window + 5_000 * MS
        while True:
            kind, payload = self.frame() or self.test.fail("stdout closed before done")
            if kind == 0x4A:
                r.done = json.loads(payload)
                break
            r.frames += 1
            self.test.assertEqual(len(payload) % 16, 0, "whole 16-byte ops")
            self.test.assertTrue(0 < len(payload) <= 64 * 16, "1 to 64 ops a batch")
            for i in range(0, len(payload), 16):
                first, second = struct.unpack_from("<QQ", payload, i)
                self.test.assertLess(first, longest, "a latency no longer than the trial")
                if self.rate is None:
                    self.test.assertIn(second, (NONE, FAILED, UNFINISHED), "closed-mode op")
                elif second < UNFINISHED:
                    self.test.assertLessEqual(second, first, "uncorrected <= corrected")
                r.ops.append((first, second))
        self.check_done(r)

    def check_done(self, r):
        d, t = r.done, self.test
        t.assertEqual(d["type"], "done")
        c = d["counts"]
        t.assertLessEqual(set(c["errors"]), KINDS)
        t.assertEqual(set(c["errors"]), set(c["first_error"]))
        t.assertEqual(sum(c["errors"].values()), r.count(FAILED), "errors = failed ops")
        for key in ("late_starts", "pace_lag_ns", "paced"):
            t.assertIsInstance(c[key], int)
            if self.rate is None:
                t.assertEqual(c[key], 0, f"{key} in closed mode")
        ru = d["usage"]["rusage"]
        t.assertEqual(set(ru), {"user_secs", "sys_secs", "ctx_voluntary", "ctx_involuntary"})
        t.assertTrue(all(v >= 0 for v in ru.values()))
        t.assertLess(ru["user_secs"] + ru["sys_secs"], 60)
        counts = d["usage"]["counts"]
        t.assertEqual(set(counts), {"retries", "connects"})
        t.assertTrue(all(isinstance(v, int) and v >= 0 for v in counts.values()))
        t.assertIsInstance(d["last_end"], int)
        t.assertGreaterEqual(d["last_end"], r.window["measure_until"], "the last op ended last")
        t.assertLess(d["last_end"], time.monotonic_ns())


def run(test, model, workload, **kw):
    r = Trial(test, model, workload, **kw).run()
    test.assertEqual(r.answer["type"], "ready", r.answer.get("error"))
    return r


def serve(kind):
    """An embedded target of iobench's, and where it listens."""
    p = subprocess.Popen([IOBENCH, "serve", kind], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    return p, p.stdout.readline().strip()


def reachable(url):
    u = urlsplit(url)
    try:
        socket.create_connection((u.hostname, u.port), timeout=2).close()
        return True
    except OSError:
        return False


POSTGRES = os.environ.get("IOBENCH_POSTGRES_URL") or "postgres://iobench@127.0.0.1:54329/iobench"
REDIS = os.environ.get("IOBENCH_REDIS_URL") or "redis://127.0.0.1:63799/"
NO_BINARY = f"{IOBENCH} is missing: build it with `cargo build`"
NO_SERVICES = "not reachable: start it with `scripts/services.sh up`"


class Sleep(unittest.TestCase):
    """Every model: sleep 10 ms, concurrency 8, warm-up 100 ms, window 300 ms."""

    def test_every_model(self):
        for model in MODELS:
            with self.subTest(model=model):
                r = run(self, model, {"kind": "sleep", "latency": "10ms"})
                lanes = r.in_flight or 8
                # No lane finishes more than one op per latency (the trial's own check).
                self.assertLessEqual(r.ok, lanes * (300 // 10 + 2))
                self.assertGreaterEqual(r.ok + r.count(FAILED), lanes * 300 // 10 // 3)
                errors = r.done["counts"]["errors"]
                if model == "asyncio-uvloop":
                    # uvloop's timers are whole milliseconds on a coarse clock: a sleep
                    # may wake before it is due, which is a mismatch.
                    self.assertLessEqual(set(errors), {"mismatch"})
                else:
                    self.assertEqual(errors, {})
                self.assertEqual(r.done["usage"]["counts"], {"retries": 0, "connects": 0})

    def test_sequential_keeps_one_in_flight(self):
        r = run(self, "sequential", {"kind": "sleep", "latency": "10ms"})
        self.assertEqual(r.in_flight, 1)
        self.assertLessEqual(r.ok, 32)

    def test_an_op_longer_than_the_window_is_unfinished(self):
        for model in ("threading", "asyncio"):
            with self.subTest(model=model):
                r = run(self, model, {"kind": "sleep", "latency": "500ms"}, concurrency=2)
                self.assertEqual(r.count(UNFINISHED), 2)
                self.assertEqual(r.ok, 0)

    def test_open_mode(self):
        for model in MODELS:
            with self.subTest(model=model):
                r = run(self, model, {"kind": "sleep", "latency": "10ms"}, rate=200.0)
                self.assertEqual(r.count(NONE), 0, "open-mode ops carry their service time")
                # 200/s over 300 ms: 60 ops are due, and each lane's last op of the
                # warm-up may end inside the window; a one-lane model can run 30.
                ops = r.ok + r.count(FAILED) + r.count(DROPPED)
                self.assertLessEqual(ops, 60 + (r.in_flight or 8))
                self.assertGreaterEqual(ops, 50)


class SetupFailures(unittest.TestCase):
    def failed(self, model, workload, **kw):
        r = Trial(self, model, workload, **kw).run()
        self.assertEqual(r.answer["type"], "setup_failed")
        return r.answer["error"]

    def test_what_the_worker_does_not_run(self):
        for model in ("sequential", "multiprocessing", "asyncio"):
            with self.subTest(model=model):
                self.assertIn("dns", self.failed(model, {"kind": "dns"}))
                self.assertIn("select-1", self.failed(model, {"kind": "postgres",
                                                              "query": "point-select"}))
                self.assertIn("set-get", self.failed(model, {"kind": "redis", "command": "get"}))

    def test_another_protocol(self):
        self.assertIn("protocol", self.failed("threading", {"kind": "sleep"}, protocol=2))

    def test_a_refused_target(self):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        for model in MODELS:
            for kind in ("tcp-echo", "http-get"):
                with self.subTest(model=model, kind=kind):
                    why = self.failed(model, {"kind": kind}, target=f"127.0.0.1:{port}")
                    self.assertIn("connect", why)


@unittest.skipUnless(os.access(IOBENCH, os.X_OK), NO_BINARY)
class EmbeddedTargets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.echo_at = serve("echo")
        cls.http, cls.http_at = serve("http")

    @classmethod
    def tearDownClass(cls):
        for p in (cls.echo, cls.http):
            p.kill()
            p.wait()
            p.stdout.close()

    def clean(self, r):
        self.assertGreater(r.ok, 20)
        self.assertEqual(r.done["counts"]["errors"], {})

    def test_tcp_echo_on_every_model(self):
        w = {"kind": "tcp-echo", "payload": "1KiB", "server_delay": "1ms", "timeout": "10s"}
        for model in MODELS:
            with self.subTest(model=model):
                r = run(self, model, w, target=self.echo_at)
                self.clean(r)
                self.assertEqual(r.done["usage"]["counts"]["connects"], 0, "kept connections")

    def test_http_get_on_every_model(self):
        w = {"kind": "http-get", "path": "/json", "server_delay": "1ms", "timeout": "10s",
             "keep_alive": True}
        for model in MODELS:
            with self.subTest(model=model):
                self.clean(run(self, model, w, target=self.http_at))

    def test_http_get_without_keep_alive(self):
        w = {"kind": "http-get", "path": "/bytes/3000", "keep_alive": False}
        for model in ("sequential", "thread-pool", "asyncio"):
            with self.subTest(model=model):
                r = run(self, model, w, target=self.http_at)
                self.clean(r)
                # A connection per op (those in flight at the window's ends give or take).
                self.assertGreaterEqual(r.done["usage"]["counts"]["connects"], r.ok - 16)

    def test_a_slow_target_times_out(self):
        w = {"kind": "tcp-echo", "payload": "100", "server_delay": "200ms", "timeout": "50ms"}
        for model in ("sequential", "threading", "asyncio"):
            with self.subTest(model=model):
                r = run(self, model, w, target=self.echo_at, concurrency=2)
                errors = r.done["counts"]["errors"]
                self.assertEqual(set(errors), {"timeout"})
                self.assertEqual(r.ok, 0)
                # A connection dropped after each error, opened again by the next op.
                connects = r.done["usage"]["counts"]["connects"]
                self.assertGreaterEqual(connects, errors["timeout"] - 2)


class FakeServer:
    """A TCP server in this process: `reply(request_bytes)` answers each request (or
    None to close without a word); `close_after` closes a connection after its reply."""

    def __init__(self, reply, size, close_after=False):
        self.reply, self.size, self.close_after = reply, size, close_after
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.at = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            while True:
                data = b""
                while len(data) < self.size(data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                answer = self.reply(data)
                if answer is None:
                    return
                conn.sendall(answer)
                if self.close_after:
                    return

    def close(self):
        self.sock.close()


def echo_size(data):
    return 8 + struct.unpack_from("<I", data)[0] if len(data) >= 8 else 8


def http_size(data):
    return len(data) if data.endswith(b"\r\n\r\n") else len(data) + 1


def http_reply(body):
    return lambda _: (b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body)) + body


class FailuresAndRetries(unittest.TestCase):
    """Servers that misbehave, as the protocol's error kinds and retries say."""

    def test_a_wrong_echo_is_a_mismatch(self):
        flip = lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:]  # noqa: E731
        server = FakeServer(flip, echo_size)
        try:
            for model in ("sequential", "multiprocessing", "asyncio"):
                with self.subTest(model=model):
                    r = run(self, model, {"kind": "tcp-echo", "payload": "100"},
                            target=server.at, concurrency=2)
                    self.assertEqual(set(r.done["counts"]["errors"]), {"mismatch"})
                    self.assertIn("byte 20", r.done["counts"]["first_error"]["mismatch"])
        finally:
            server.close()

    def test_a_server_that_hangs_up_is_a_reset(self):
        server = FakeServer(lambda _: None, echo_size)
        try:
            for model in ("threading", "asyncio"):
                with self.subTest(model=model):
                    r = run(self, model, {"kind": "tcp-echo", "payload": "100"},
                            target=server.at, concurrency=2)
                    self.assertEqual(set(r.done["counts"]["errors"]), {"reset"})
        finally:
            server.close()

    def test_a_closed_kept_alive_connection_is_retried(self):
        echo = FakeServer(lambda d: d, echo_size, close_after=True)
        http = FakeServer(http_reply(b"Hello, Anonymous"), http_size, close_after=True)
        try:
            for model in ("sequential", "thread-pool", "asyncio"):
                with self.subTest(model=model, kind="tcp-echo"):
                    r = run(self, model, {"kind": "tcp-echo", "payload": "64"},
                            target=echo.at, concurrency=2)
                    self.assertEqual(r.done["counts"]["errors"], {})
                    self.assertGreater(r.done["usage"]["counts"]["retries"], 0)
                with self.subTest(model=model, kind="http-get"):
                    r = run(self, model, {"kind": "http-get"}, target=http.at, concurrency=2)
                    self.assertEqual(r.done["counts"]["errors"], {})
                    if model != "asyncio":  # aiohttp retries without saying so
                        self.assertGreater(r.done["usage"]["counts"]["retries"], 0)
        finally:
            echo.close()
            http.close()

    def test_a_wrong_body_is_a_mismatch(self):
        server = FakeServer(http_reply(b"Hello, Nobody!!!"), http_size)
        try:
            for model in ("threading", "asyncio"):
                with self.subTest(model=model):
                    r = run(self, model, {"kind": "http-get"}, target=server.at,
                            concurrency=2)
                    self.assertEqual(set(r.done["counts"]["errors"]), {"mismatch"})
        finally:
            server.close()


class Databases(unittest.TestCase):
    def each_model(self, workload):
        for model in MODELS:
            with self.subTest(model=model):
                r = run(self, model, workload)
                self.assertGreater(r.ok, 20)
                self.assertEqual(r.done["counts"]["errors"], {})

    @unittest.skipUnless(reachable(POSTGRES), f"PostgreSQL at {POSTGRES} {NO_SERVICES}")
    def test_postgres_select_1(self):
        self.each_model({"kind": "postgres", "query": "select-1", "pool_min": 5,
                         "pool_max": 10, "timeout": "10s", "url": POSTGRES})

    @unittest.skipUnless(reachable(REDIS), f"Redis at {REDIS} {NO_SERVICES}")
    def test_redis_set_get(self):
        self.each_model({"kind": "redis", "command": "set-get", "value_size": "64",
                         "pool_min": 5, "pool_max": 10, "timeout": "10s", "url": REDIS})


@unittest.skipUnless(os.access(IOBENCH, os.X_OK), NO_BINARY)
class ThroughIobench(unittest.TestCase):
    """`iobench run` with the worker as external models: the Rust trial's side."""

    def scenario(self, models, workloads):
        lines = ['name = "py-worker-test"', 'description = "test"', "[run]", "trials = 1",
                 'warmup = "100ms"', 'duration = "300ms"', 'mode = "closed"',
                 f"models = {json.dumps([m for m, _ in models])}", "concurrency = [4]"]
        for name, argv in models:
            lines += ["[[model]]", f'name = "{name}"', f"worker = {json.dumps(argv)}",
                      'runs = ["sleep", "tcp-echo", "http-get"]']
        for kind in workloads:
            lines += ["[[workload]]", f'kind = "{kind}"']
        d = tempfile.mkdtemp(prefix="iobench-py-")
        path = os.path.join(d, "s.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = subprocess.run([IOBENCH, "run", path, "--out", os.path.join(d, "run")],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
        return p.stdout + p.stderr

    def test_the_models_run(self):
        models = [(f"py-{m}", [sys.executable, WORKER, "--model", m])
                  for m in ("threading", "asyncio")]
        log = self.scenario(models, ["sleep", "tcp-echo"])
        trials = [line for line in log.splitlines() if line.startswith("[")]
        self.assertEqual(len(trials), 4, log)
        self.assertTrue(all(": ok," in line for line in trials), log)

    def test_the_liar_is_caught(self):
        log = self.scenario([("py-liar", [sys.executable, LIAR])],
                            ["sleep", "tcp-echo", "http-get"])
        trials = [line for line in log.splitlines() if line.startswith("[")]
        self.assertEqual(len(trials), 3, log)
        self.assertTrue(all(": failed:" in line for line in trials), log)
        self.assertEqual(sum("the target answered 0 requests" in t for t in trials), 2, log)
        self.assertEqual(sum("can finish at most" in t for t in trials), 1, log)


if __name__ == "__main__":
    unittest.main()
