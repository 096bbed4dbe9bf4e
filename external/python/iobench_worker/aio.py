"""The workloads for asyncio models: the talk's clients. Each lane's session has
`async op(start)`, which raises on failure, and `async close()`; `timeout` is the deadline
of the whole op (one timer per op), the wait for a pooled connection included.

- sleep: `asyncio.sleep(latency)`, checked not to wake early; with `block_every = N`, one
  op in N of each lane sleeps with `time.sleep`, blocking the loop.
- tcp-echo: one `asyncio.open_connection` per lane, kept.
- http-get: the talk's aiohttp client: one `ClientSession` for all lanes, its
  `TCPConnector` limited to the concurrency, `ClientTimeout(total=timeout)`.
- postgres: the talk's aiopg pool (`aiopg.create_pool(dsn, minsize, maxsize)`), `SELECT 1`
  with the rows read by `async for`; the rows must be [(1,)].
- redis: the talk used aioredis's pool (min 5, max 10). aioredis 2 does not import on
  Python 3.11+ ("TypeError: duplicate base class TimeoutError": asyncio.TimeoutError
  became the builtin TimeoutError), and it was merged into redis-py as `redis.asyncio`,
  so this is `redis.asyncio` with a `BlockingConnectionPool(max_connections=pool_max)`,
  pool_min connections opened first. (That pool is not fair: a lane that hands a
  connection back and asks again at once gets it before the lanes already waiting.)
"""

import asyncio
import os
import time

from .blocking import (first_difference, pg_error, redis_connection_class, redis_error,
                       redis_pool_args)
from .errors import OpError, SetupFailed, describe, mismatch
from .sink import CONNECTS, RETRIES
from .spec import redis_tails, redis_value

try:  # the talk's libraries are loaded before `hello`, when installed
    import aiohttp
    import yarl
except ImportError as e:
    aiohttp = None
    AIOHTTP_MISSING = str(e)
try:
    import aiopg
    import psycopg2
except ImportError as e:
    aiopg = None
    AIOPG_MISSING = str(e)
try:
    import redis
    import redis.asyncio
    import redis.asyncio.connection
except ImportError as e:
    redis = None
    REDIS_MISSING = str(e)

mono = time.monotonic_ns


def _need(module, name, what):
    if module is None:
        raise SetupFailed(f"{what} is not installed here: {globals().get(name)}")


class SharedLane:
    """A lane with nothing of its own: its op is the shared one's."""

    __slots__ = ("op",)

    def __init__(self, op):
        self.op = op

    async def close(self):
        pass


class Sleep:
    def __init__(self, spec):
        self.ns = spec.latency_ns
        self.secs = spec.latency_ns / 1e9
        self.every = spec.block_every
        self.n = 0

    async def op(self, _start):
        t = mono()
        if self.every and self.n % self.every == self.every - 1:
            time.sleep(self.secs)  # blocks the event loop, on purpose
        else:
            await asyncio.sleep(self.secs)
            # uvloop's timers run on libuv's loop clock, in whole milliseconds and read once
            # per loop iteration, so they fire up to 1 ms early by CLOCK_MONOTONIC (seen on
            # about 9% of 10 ms sleeps here; asyncio's own loop never woke early). A wait
            # is at least `latency`: the rest is waited out, a second timer being the
            # loop's own cost.
            left = self.ns - (mono() - t)
            while left > 0:
                await asyncio.sleep(left / 1e9)
                left = self.ns - (mono() - t)
        self.n += 1
        waited = mono() - t
        if waited < self.ns:
            raise mismatch(f"woke after {waited} ns, before the {self.ns} ns asked for")

    async def close(self):
        pass


class TcpEcho:
    """One stream per lane. A reused one found closed before any byte of the echo came
    back is opened again and the request sent once more (a retry)."""

    def __init__(self, spec):
        self.spec = spec
        self.request = spec.request
        self.timeout = spec.timeout_s
        self.reader = self.writer = None
        self.used = 0

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(self.spec.host, self.spec.port)
        CONNECTS.note()
        self.used = 0

    async def exchange(self, reused):
        try:
            self.writer.write(self.request)
            await self.writer.drain()
            return await self.reader.readexactly(len(self.request))
        except asyncio.IncompleteReadError as e:
            if reused and not e.partial:
                return None
            raise EOFError(f"the connection closed after {len(e.partial)} of "
                           f"{len(self.request)} bytes") from None
        except ConnectionError:
            if reused:  # reset before the echo was read whole: taken as never answered
                return None
            raise

    async def op(self, _start):
        try:
            async with asyncio.timeout(self.timeout):
                if self.writer is None:
                    await self.connect()
                echo = await self.exchange(self.used > 0)
                if echo is None:
                    RETRIES.note()
                    self.drop()
                    await self.connect()
                    echo = await self.exchange(False)
        except TimeoutError:
            self.drop()
            raise OpError("timeout", f"no echo within {self.timeout:g}s") from None
        except BaseException:
            self.drop()
            raise
        if echo != self.request:
            self.drop()
            raise mismatch(f"echo differs from what was sent at byte "
                           f"{first_difference(echo, self.request)}")
        self.used += 1

    def drop(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def close(self):
        self.drop()


class CountingConnector(aiohttp.TCPConnector if aiohttp else object):
    """aiohttp's connector, counting the connections it opens."""

    async def _create_connection(self, *args, **kwargs):
        proto = await super()._create_connection(*args, **kwargs)
        CONNECTS.note()
        return proto


def http_error(e):
    """An aiohttp error as an OpError of its kind (its timeouts are TimeoutErrors)."""
    why = f"aiohttp: {type(e).__name__}: {e}"
    if isinstance(e, aiohttp.ClientConnectorError):
        refused = isinstance(e.os_error, ConnectionRefusedError)
        return OpError("refused" if refused else "reset", why)
    if isinstance(e, TimeoutError):
        return OpError("timeout", why)
    if isinstance(e, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                      aiohttp.ClientPayloadError)):
        return OpError("reset", why)
    if isinstance(e, aiohttp.ClientResponseError):
        return OpError("mismatch", why)  # an unreadable reply
    return OpError("other", why)


class HttpShared:
    """The talk's client: one session, its connector limited to the concurrency."""

    def __init__(self, spec, concurrency):
        _need(aiohttp, "AIOHTTP_MISSING", "aiohttp")
        self.spec = spec
        self.concurrency = concurrency
        # Parsed once, not per request.
        self.url = yarl.URL(f"http://{spec.target}{spec.path_query}", encoded=True)
        self.session = None

    async def open(self):
        s = self.spec
        connector = CountingConnector(limit=self.concurrency, force_close=not s.keep_alive)
        headers = {"Host": s.target, "User-Agent": "iobench"}
        if not s.keep_alive:
            headers["Connection"] = "close"
        self.session = aiohttp.ClientSession(
            connector=connector, headers=headers,
            timeout=aiohttp.ClientTimeout(total=s.timeout_s))
        # Each lane's connection is opened before the window, as every model's is: one
        # request per lane, all at once so that none reuses another's, without the
        # server's delay. Only a target that cannot be reached fails the setup; what the
        # replies hold is the window's to judge.
        lanes = self.concurrency if s.keep_alive else 1
        warm = self.url.with_query(None)
        results = await asyncio.gather(*(self.warm(warm) for _ in range(lanes)),
                                       return_exceptions=True)
        failed = next((r for r in results if isinstance(r, aiohttp.ClientConnectorError)), None)
        if failed is not None:
            raise SetupFailed(f"could not connect to {s.target}: {describe(failed)}")

    async def warm(self, url):
        async with self.session.get(url) as resp:
            await resp.read()

    async def get(self):
        # aiohttp sends a request again, once, itself when a kept-alive connection turns
        # out closed; it does not say so, so those retries are not counted.
        async with self.session.get(self.url) as resp:
            if resp.status != 200:
                raise mismatch(f"status {resp.status} instead of 200")
            if resp.content_length is None:
                raise mismatch("no content-length")
            body = await resp.read()
        want = self.spec.body
        if body != want:
            if len(body) != len(want):
                raise mismatch(f"content-length {len(body)}, the route's body has {len(want)}")
            raise mismatch(f"the body differs from the route's at byte "
                           f"{first_difference(body, want)}")

    async def op(self, _start):
        try:
            await self.get()
        except aiohttp.ClientError as e:
            raise http_error(e) from None
        except TimeoutError:  # the session's ClientTimeout(total=timeout)
            raise OpError("timeout", f"aiohttp: no reply within {self.spec.timeout_s:g}s") from None

    def lane(self):
        return SharedLane(self.op)

    async def close(self):
        if self.session is not None:
            await self.session.close()


class PgShared:
    """The talk's aiopg pool: `pool_min` connections opened at once, `pool_max` at most;
    each names itself (the trial counts them) and asks for `statement_timeout`."""

    def __init__(self, spec):
        _need(aiopg, "AIOPG_MISSING", "aiopg")
        self.spec = spec
        self.timeout = spec.timeout_s
        self.pool = None

    async def open(self):
        s = self.spec

        async def counted(_conn):
            CONNECTS.note()

        try:
            self.pool = await aiopg.create_pool(
                s.url, minsize=s.pool_min, maxsize=max(s.pool_max, 1), timeout=s.timeout_s,
                on_connect=counted, application_name=s.app_name,
                options=f"-c statement_timeout={max(1, s.timeout_ns // 1_000_000)}")
        except (psycopg2.Error, OSError) as e:
            raise SetupFailed(f"could not open {s.pool_min} connection(s) to {s.url}: "
                              f"{describe(e)}") from None

    async def op(self, _start):
        try:
            async with asyncio.timeout(self.timeout):
                async with self.pool.acquire() as conn:
                    try:
                        async with conn.cursor() as cur:
                            await cur.execute("SELECT 1")
                            ret = [row async for row in cur]
                    except BaseException:
                        conn.close()  # abandoned or failed mid-query: the pool drops it
                        raise
        except TimeoutError:
            raise OpError("timeout", f"postgres: no reply within {self.timeout:g}s") from None
        except psycopg2.Error as e:
            raise pg_error(e) from None
        if ret != [(1,)]:
            raise mismatch(f"SELECT 1 returned {ret!r}")

    def lane(self):
        return SharedLane(self.op)

    async def close(self):
        if self.pool is not None:
            self.pool.close()
            await self.pool.wait_closed()


class RedisShared:
    """A `redis.asyncio.BlockingConnectionPool` of `pool_max`, `pool_min` opened first."""

    def __init__(self, spec):
        _need(redis, "REDIS_MISSING", "redis (redis-py)")
        self.spec = spec
        self.tails = redis_tails(spec.value_size)
        self.pool = None

    async def open(self):
        s = self.spec
        self.pool = redis.asyncio.BlockingConnectionPool.from_url(
            s.url, max_connections=max(s.pool_max, 1), timeout=s.timeout_s,
            connection_class=redis_connection_class(redis.asyncio.connection.Connection),
            **redis_pool_args(s))
        opened = []
        try:
            for _ in range(s.pool_min):
                opened.append(await self.pool.get_connection())
        except redis.exceptions.RedisError as e:
            raise SetupFailed(f"could not open {s.pool_min} connection(s) to {s.url}: "
                              f"{redis_error(e)}") from None
        for c in opened:
            await self.pool.release(c)

    def lane(self):
        return RedisLane(self)

    async def close(self):
        if self.pool is not None:
            await self.pool.disconnect()


class RedisLane:
    """One lane's key and op count; one connection checked out for both round trips."""

    def __init__(self, shared):
        self.pool = shared.pool
        self.size = shared.spec.value_size
        self.tails = shared.tails
        self.timeout = shared.spec.timeout_s
        self.id = int.from_bytes(os.urandom(8), "little") | 1
        self.key = f"iobench:set-get:{self.id:x}"
        self.ops = 0

    async def op(self, _start):
        self.ops += 1
        want = redis_value(self.id ^ self.ops, self.size, self.tails)
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self.pool.get_connection()
                try:
                    await conn.send_command("SET", self.key, want)
                    await conn.read_response()
                    await conn.send_command("GET", self.key)
                    got = await conn.read_response()
                except BaseException:
                    await conn.disconnect()  # mid-exchange: not reused
                    raise
                finally:
                    await self.pool.release(conn)
        except TimeoutError:
            raise OpError("timeout", f"redis: no reply within {self.timeout:g}s") from None
        except redis.exceptions.RedisError as e:
            raise redis_error(e) from None
        if got != want:
            raise mismatch(f"GET {self.key} returned nothing" if got is None else
                           f"GET {self.key} returned {len(got)} bytes that differ from "
                           f"the {len(want)} stored")

    async def close(self):
        pass


async def open_lanes(spec, concurrency):
    """The lanes' sessions, opened one after another, and what they share (a session, a
    pool) or None. Raises SetupFailed."""
    if spec.kind == "sleep":
        return [Sleep(spec) for _ in range(concurrency)], None
    if spec.kind == "tcp-echo":
        lanes = [TcpEcho(spec) for _ in range(concurrency)]
        try:
            for lane in lanes:
                await asyncio.wait_for(lane.connect(), spec.timeout_s)
        except (OSError, TimeoutError) as e:
            for lane in lanes:
                await lane.close()
            raise SetupFailed(f"could not connect to {spec.target}: {describe(e)}") from None
        return lanes, None
    shared = {"http-get": lambda: HttpShared(spec, concurrency), "postgres": lambda: PgShared(spec),
              "redis": lambda: RedisShared(spec)}[spec.kind]()
    try:
        await shared.open()
    except BaseException:
        await shared.close()
        raise
    return [shared.lane() for _ in range(concurrency)], shared
