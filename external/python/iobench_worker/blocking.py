"""The workloads for blocking models: each lane's session has `op(start)`, which runs one
op and raises on failure (an `OpError` of its kind, or the library's exception, which
`errors.classify` names), and `close()`. After a failure a session drops its connection;
the next op opens a new one (and counts it).

What a lane does, workload by workload (as src/workload/ does it):
- sleep: `time.sleep(latency)`, then checks it did not wake early.
- tcp-echo: one socket per lane, kept; the 8-byte header and payload sent, the echo
  compared byte for byte.
- http-get: `http.client.HTTPConnection`, one per lane (keep-alive, or a new connection
  per op with `Connection: close`); status 200 and the body the route must answer.
- postgres: `SELECT 1` through a `psycopg2.pool.ThreadedConnectionPool` that the lanes of
  a process share; the row must be (1,).
- redis: SET the lane's key to a value that changes every op, GET it back, compare,
  through a `redis.BlockingConnectionPool` that the lanes of a process share.
"""

import http.client
import os
import socket
import struct
import threading
import time

from .errors import OpError, SetupFailed, mismatch
from .sink import CONNECTS, RETRIES
from .spec import redis_tails, redis_value

try:  # the database clients are loaded before `hello`, when installed
    import psycopg2
    import psycopg2.extensions
    import psycopg2.pool
except ImportError as e:
    psycopg2 = None
    PSYCOPG2_MISSING = str(e)
try:
    import redis
    import redis.backoff
    import redis.retry
except ImportError as e:
    redis = None
    REDIS_MISSING = str(e)

mono = time.monotonic_ns


def past_deadline(start, timeout_ns):
    """A blocking op learns of its deadline only when its call returns: one that ended
    past it is a timeout, as in every other model (src/workload/db/deadline.rs)."""
    took = mono() - start
    if took > timeout_ns:
        raise OpError("timeout", f"the op took {took / 1e6:.1f} ms, past its "
                                 f"{timeout_ns / 1e6:g} ms deadline")


class Sleep:
    def __init__(self, spec):
        self.ns = spec.latency_ns
        self.secs = spec.latency_ns / 1e9

    def op(self, _start):
        t = mono()
        time.sleep(self.secs)
        waited = mono() - t
        if waited < self.ns:
            raise mismatch(f"woke after {waited} ns, before the {self.ns} ns asked for")

    def close(self):
        pass


def first_difference(got, want):
    return next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))


class TcpEcho:
    """One connection per lane. A reused connection found closed before any byte of the
    echo came back is opened again and the request sent once more (a retry)."""

    def __init__(self, spec):
        self.addr = (spec.host, spec.port)
        self.request = spec.request
        self.buf = bytearray(len(spec.request))
        self.view = memoryview(self.buf)
        self.timeout_ns = spec.timeout_ns
        # SO_RCVTIMEO/SO_SNDTIMEO bound each call (a blocking socket: no poll per call).
        secs, ns = divmod(spec.timeout_ns, 1_000_000_000)
        self.timeval = struct.pack("ll", secs, ns // 1000)
        self.sock = None
        self.used = 0
        self.connect()

    def connect(self):
        s = socket.create_connection(self.addr, timeout=self.timeout_ns / 1e9)
        CONNECTS.note()
        s.settimeout(None)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self.timeval)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.timeval)
        self.sock, self.used = s, 0

    def exchange(self, reused):
        """Sends the request and reads the echo; False when a reused connection turned out
        closed before any byte came back."""
        sock, view, n = self.sock, self.view, len(self.buf)
        got = 0
        try:
            sock.sendall(self.request)
            while got < n:
                k = sock.recv_into(view[got:])
                if k == 0:
                    raise EOFError(f"the connection closed after {got} of {n} bytes")
                got += k
        except (ConnectionError, EOFError):
            if reused and got == 0:
                return False
            raise
        except BlockingIOError:
            raise OpError("timeout", f"no echo within {self.timeout_ns / 1e9:g}s "
                                     f"({got} of {n} bytes)") from None
        return True

    def op(self, start):
        try:
            if self.sock is None:
                self.connect()
            if not self.exchange(self.used > 0):
                RETRIES.note()
                self.close()
                self.connect()
                self.exchange(False)
            if self.buf != self.request:
                at = first_difference(self.buf, self.request)
                raise mismatch(f"echo differs from what was sent at byte {at}")
            self.used += 1
            past_deadline(start, self.timeout_ns)
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class CountedHTTPConnection(http.client.HTTPConnection):
    """http.client's connection, counting the connections it opens (it opens one itself
    when a request finds none)."""

    def connect(self):
        super().connect()
        CONNECTS.note()


class HttpGet:
    """One `http.client.HTTPConnection` per lane: the request line and headers are the
    ones src/workload/http_get.rs sends."""

    def __init__(self, spec):
        self.conn = CountedHTTPConnection(spec.host, spec.port, timeout=spec.timeout_ns / 1e9)
        self.headers = (("Host", spec.target), ("User-Agent", "iobench"),
                        ("Connection", "keep-alive" if spec.keep_alive else "close"))
        self.path = spec.path_query
        self.body = spec.body
        self.keep_alive = spec.keep_alive
        self.timeout_ns = spec.timeout_ns
        self.used = 0
        self.conn.connect()

    def request(self):
        c = self.conn
        c.putrequest("GET", self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers:
            c.putheader(name, value)
        c.endheaders()
        return c.getresponse()

    def op(self, start):
        c = self.conn
        try:
            reused = c.sock is not None and self.used > 0
            if c.sock is None:
                self.used = 0
            try:
                r = self.request()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had closed: once more on a new one.
                if not reused:
                    raise
                RETRIES.note()
                c.close()
                r = self.request()
            if r.status != 200:
                raise mismatch(f"status {r.status} instead of 200")
            if r.length is None:
                raise mismatch("no content-length")
            body = r.read()
            if body != self.body:
                if len(body) != len(self.body):
                    raise mismatch(f"content-length {len(body)}, the route's body has "
                                   f"{len(self.body)}")
                at = first_difference(body, self.body)
                raise mismatch(f"the body differs from the route's at byte {at}")
            self.used += 1
            if not self.keep_alive or r.will_close:
                c.close()
            past_deadline(start, self.timeout_ns)
        except TimeoutError:  # the socket's timeout, on one call
            c.close()
            raise OpError("timeout", f"no reply within {self.timeout_ns / 1e9:g}s") from None
        except BaseException:
            c.close()
            raise

    def close(self):
        self.conn.close()


class SharedLane:
    """A lane with nothing of its own: its op is the shared one's."""

    __slots__ = ("op",)

    def __init__(self, op):
        self.op = op

    def close(self):
        pass


def pg_error(e):
    """A psycopg2 error as an OpError of its kind."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, psycopg2.extensions.QueryCanceledError):
        kind = "timeout"  # the server ended it at statement_timeout: the op's deadline
    elif isinstance(e, psycopg2.OperationalError):
        low = str(e).lower()
        if "refused" in low:
            kind = "refused"
        elif "timeout" in low or "timed out" in low:
            kind = "timeout"
        else:
            kind = "reset"  # "server closed the connection unexpectedly", and the like
    elif isinstance(e, psycopg2.InterfaceError):
        kind = "reset"  # "connection already closed"
    else:
        kind = "other"
    return OpError(kind, f"postgres: {text}")


def _need(module, missing, what):
    if module is None:
        raise SetupFailed(f"{what} is not installed here: {missing}")


class PgPool:
    """The connections of this process: `pool_max` at most, `pool_min` opened now. Every
    connection names itself (`application_name`, so the trial can count them) and asks for
    `statement_timeout` = the op's deadline; autocommit, as aiopg's are, so that `SELECT 1`
    is one round trip, with no BEGIN before it nor ROLLBACK after.

    psycopg2's pool does not wait for a connection (it raises "pool exhausted"), so a
    semaphore of `pool_max` makes a lane wait for one, at most the op's deadline."""

    def __init__(self, spec, pool_min, pool_max):
        _need(psycopg2, globals().get("PSYCOPG2_MISSING"), "psycopg2")
        self.timeout_ns = spec.timeout_ns
        ms = max(1, spec.timeout_ns // 1_000_000)

        class Counted(psycopg2.extensions.connection):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.autocommit = True
                CONNECTS.note()

        try:
            self.pool = psycopg2.pool.ThreadedConnectionPool(
                pool_min, max(pool_max, 1), spec.url, connection_factory=Counted,
                application_name=spec.app_name, options=f"-c statement_timeout={ms}",
                # libpq's connect_timeout is whole seconds, 2 at least
                connect_timeout=max(2, -(-spec.timeout_ns // 1_000_000_000)))
        except psycopg2.Error as e:
            raise SetupFailed(f"could not open {pool_min} connection(s) to {spec.url}: "
                              f"{pg_error(e)}") from None
        # psycopg2's pool closes a connection handed back while `minconn` idle ones are
        # kept; r2d2, aiopg and redis's pools keep theirs up to the maximum. So do we.
        self.pool.minconn = pool_max
        self.slots = threading.BoundedSemaphore(max(pool_max, 1))

    def op(self, start):
        if not self.slots.acquire(timeout=self.timeout_ns / 1e9):
            raise OpError("timeout", f"no connection within {self.timeout_ns / 1e9:g}s")
        try:
            conn = self.pool.getconn()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    rows = cur.fetchall()
            except BaseException as e:
                self.pool.putconn(conn, close=True)  # a broken connection is dropped
                if isinstance(e, psycopg2.Error):
                    raise pg_error(e) from None
                raise
            self.pool.putconn(conn)
        except psycopg2.Error as e:  # opening a connection on demand
            raise pg_error(e) from None
        finally:
            self.slots.release()
        if rows != [(1,)]:
            raise mismatch(f"SELECT 1 returned {rows!r}")
        past_deadline(start, self.timeout_ns)

    def lane(self):
        return SharedLane(self.op)  # nothing of its own: a connection is checked out per op

    def close(self):
        self.pool.closeall()


def redis_error(e):
    """A redis-py error as an OpError of its kind."""
    text = f"redis: {e}"
    if isinstance(e, redis.exceptions.TimeoutError):
        return OpError("timeout", text)
    if isinstance(e, redis.exceptions.ConnectionError):
        low = str(e).lower()
        if "no connection available" in low:
            return OpError("timeout", "redis: no connection within the deadline")
        return OpError("refused" if "refused" in low else "reset", text)
    return OpError("other", text)


def redis_connection_class(base):
    """`base` (redis-py's sync or asyncio Connection), counting the sockets it opens."""

    class Counted(base):
        def _connect(self, *args, **kwargs):
            CONNECTS.note()
            return super()._connect(*args, **kwargs)

    return Counted


def redis_pool_args(spec):
    """What both redis pools are made with: the deadline on every socket call, the trial's
    name on every connection, and no retries of redis-py's own (a failed op is an error)."""
    return dict(socket_timeout=spec.timeout_s, socket_connect_timeout=spec.timeout_s,
                client_name=spec.app_name,
                retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))


class RedisPool:
    """The connections of this process: a `redis.BlockingConnectionPool` of `pool_max`
    (a lane waits for one at most the deadline), `pool_min` opened now."""

    def __init__(self, spec, pool_min, pool_max):
        _need(redis, globals().get("REDIS_MISSING"), "redis (redis-py)")
        self.spec = spec
        self.tails = redis_tails(spec.value_size)
        self.pool = redis.BlockingConnectionPool.from_url(
            spec.url, max_connections=max(pool_max, 1), timeout=spec.timeout_s,
            connection_class=redis_connection_class(redis.Connection),
            **redis_pool_args(spec))
        try:
            opened = [self.pool.get_connection() for _ in range(pool_min)]
        except redis.exceptions.RedisError as e:
            raise SetupFailed(f"could not open {pool_min} connection(s) to {spec.url}: "
                              f"{redis_error(e)}") from None
        for c in opened:
            self.pool.release(c)

    def lane(self):
        return RedisLane(self)

    def close(self):
        self.pool.disconnect()


class RedisLane:
    """One lane's key (`iobench:set-get:<id>`) and op count; one connection is checked
    out for both of an op's round trips, as src/workload/redis.rs does."""

    def __init__(self, shared):
        self.pool = shared.pool
        self.size = shared.spec.value_size
        self.tails = shared.tails
        self.timeout_ns = shared.spec.timeout_ns
        self.id = int.from_bytes(os.urandom(8), "little") | 1
        self.key = f"iobench:set-get:{self.id:x}"
        self.ops = 0

    def op(self, start):
        self.ops += 1
        want = redis_value(self.id ^ self.ops, self.size, self.tails)
        try:
            conn = self.pool.get_connection()
            try:
                conn.send_command("SET", self.key, want)
                conn.read_response()
                conn.send_command("GET", self.key)
                got = conn.read_response()
            except BaseException:
                conn.disconnect()  # mid-exchange: not reused
                raise
            finally:
                self.pool.release(conn)
        except redis.exceptions.RedisError as e:
            raise redis_error(e) from None
        if got != want:
            raise mismatch(f"GET {self.key} returned nothing" if got is None else
                           f"GET {self.key} returned {len(got)} bytes that differ from "
                           f"the {len(want)} stored")
        past_deadline(start, self.timeout_ns)

    def close(self):
        pass


class Lanes:
    """A process's lanes of one workload: `lane()` opens the next lane's session; a
    database's pool (at most `pool_max` connections, `pool_min` opened at once) is made
    here, once, and shared by the lanes of this process."""

    def __init__(self, spec, pool_min=None, pool_max=None):
        self.spec = spec
        self.shared = None
        if spec.kind == "postgres":
            self.shared = PgPool(spec, spec.pool_min if pool_min is None else pool_min,
                                 spec.pool_max if pool_max is None else pool_max)
        elif spec.kind == "redis":
            self.shared = RedisPool(spec, spec.pool_min if pool_min is None else pool_min,
                                    spec.pool_max if pool_max is None else pool_max)

    def lane(self):
        """A new lane's session. Raises SetupFailed when it cannot be opened."""
        if self.shared is not None:
            return self.shared.lane()
        kind = self.spec.kind
        try:
            if kind == "sleep":
                return Sleep(self.spec)
            if kind == "tcp-echo":
                return TcpEcho(self.spec)
            return HttpGet(self.spec)
        except OSError as e:
            raise SetupFailed(f"could not connect to {self.spec.target}: {e}") from None

    def close(self):
        if self.shared is not None:
            self.shared.close()
