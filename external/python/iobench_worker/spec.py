"""A setup's workload, read as iobench writes it (every parameter, durations and sizes as
strings), into what the ops need: the same bytes, paths, keys and values as the Rust
workloads in src/workload/."""

import os
import re
import struct

from .errors import SetupFailed

_DURATION = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
_SIZE = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
         "KB": 1000, "MB": 1000**2, "GB": 1000**3}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ]*)\s*$")

# Each kind this worker runs, with iobench's defaults (`iobench list`).
DEFAULTS = {
    "sleep": {"latency": "10ms", "block_every": 0},
    "tcp-echo": {"payload": "1KiB", "server_delay": "0s", "timeout": "10s"},
    "http-get": {"path": "/", "server_delay": "0s", "timeout": "10s", "keep_alive": True},
    "postgres": {"query": "select-1", "pool_min": 5, "pool_max": 10, "timeout": "10s"},
    "redis": {"command": "set-get", "value_size": "64", "pool_min": 5, "pool_max": 10,
              "timeout": "10s"},
}
# What each database kind runs here, of the queries and commands iobench knows.
SUPPORTED = {"postgres": ("query", "select-1"), "redis": ("command", "set-get")}
# The servers' defaults, as src/workload/db/service.rs has them.
DEFAULT_URLS = {
    "postgres": ("IOBENCH_POSTGRES_URL", "postgres://iobench@127.0.0.1:54329/iobench"),
    "redis": ("IOBENCH_REDIS_URL", "redis://127.0.0.1:63799/"),
}
MAX_BYTES = 64 << 20  # the largest /bytes/{n} the routes serve


def _scaled(text, units, what):
    m = _NUMBER.match(str(text))
    if not m or m.group(2) not in units:
        raise SetupFailed(f"`{text}` is not a {what}")
    return float(m.group(1)) * units[m.group(2)]


def duration_ns(text):
    return int(round(_scaled(text, _DURATION, "duration")))


def size_bytes(text):
    return int(round(_scaled(text, _SIZE, "size")))


def expected_body(path):
    """The body a route answers with (src/workload/http_get.rs), None for no route."""
    if not path.startswith("/"):
        return None
    rest = path[1:]
    if rest == "":
        return b"Hello, Anonymous"
    if rest == "json":
        return b'{"hello": "world"}'
    if rest.startswith("bytes/"):
        n = rest[len("bytes/"):]
        if not n.isdigit() or int(n) > MAX_BYTES:
            return None
        return bytes(0x61 + i % 26 for i in range(int(n)))
    if "/" not in rest:
        return f"Hello, {rest}".encode()
    return None


def echo_request(payload, delay_ns):
    """tcp-echo's request: payload length and server delay (µs), both u32 LE, then a
    pattern that shifts with position (src/workload/tcp_echo.rs)."""
    head = struct.pack("<II", payload, min(delay_ns // 1000, 2**32 - 1))
    return head + bytes(((i * 131) ^ (i >> 8)) & 0xFF for i in range(payload))


def redis_value(seed, size, tails):
    """redis's value of `seed` (src/workload/redis.rs): the seed's 16 hex digits, lowest
    first, then a pattern `tails[seed % 26]` (the pattern only depends on it), `size`
    bytes in all."""
    head = f"{seed:016x}"[::-1].encode()
    return (head + tails[seed % 26])[:size]


def redis_tails(size):
    """The 26 patterns after a value's first 16 bytes."""
    return [bytes(0x61 + (r + i * 7) % 26 for i in range(16, max(size, 16)))
            for r in range(26)]


def split_host_port(target):
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise SetupFailed(f"target `{target}` is not host:port")
    return host.strip("[]"), int(port)


class Spec:
    """The workload of a setup: `kind`, its parameters as attributes (durations in ns,
    sizes in bytes), and what its ops are made of."""

    def __init__(self, workload, resolved):
        self.kind = kind = workload.get("kind")
        if kind not in DEFAULTS:
            raise SetupFailed(f"this worker does not run workload `{kind}` "
                              f"(it runs {', '.join(DEFAULTS)})")
        p = dict(DEFAULTS[kind])
        p.update({k: v for k, v in workload.items() if k != "kind"})
        self.params = p
        if kind in SUPPORTED:
            key, only = SUPPORTED[kind]
            if p[key] != only:
                raise SetupFailed(f"this worker runs {kind} with {key} = \"{only}\" only, "
                                  f"not \"{p[key]}\"")
        self.timeout_ns = duration_ns(p["timeout"]) if "timeout" in p else None
        self.timeout_s = self.timeout_ns / 1e9 if self.timeout_ns else None
        getattr(self, "_" + kind.replace("-", "_"))(p, resolved or {})

    def _sleep(self, p, _):
        self.latency_ns = duration_ns(p["latency"])
        self.block_every = int(p.get("block_every") or 0)

    def _target(self, resolved):
        target = resolved.get("target")
        if not target:
            raise SetupFailed("no target: `resolved.target` is missing")
        self.target = target
        self.host, self.port = split_host_port(target)

    def _tcp_echo(self, p, resolved):
        self._target(resolved)
        self.request = echo_request(size_bytes(p["payload"]), duration_ns(p["server_delay"]))

    def _http_get(self, p, resolved):
        self._target(resolved)
        self.path = p["path"]
        self.body = expected_body(self.path)
        if self.body is None:
            raise SetupFailed(f"path `{self.path}` is not one of the routes")
        micros = duration_ns(p["server_delay"]) // 1000
        self.path_query = self.path + (f"?delay={micros}us" if micros > 0 else "")
        self.keep_alive = bool(p["keep_alive"])

    def _database(self, p):
        self.pool_min = int(p["pool_min"])
        self.pool_max = int(p["pool_max"])
        var, default = DEFAULT_URLS[self.kind]
        self.url = p.get("url") or os.environ.get(var) or default
        # What every connection calls itself, so the trial can count them on the server.
        self.app_name = os.environ.get("IOBENCH_TRIAL_TAG") or f"iobench-{os.getpid()}"

    def _postgres(self, p, _):
        self._database(p)

    def _redis(self, p, _):
        self._database(p)
        self.value_size = size_bytes(p["value_size"])

    @property
    def database(self):
        return self.kind in SUPPORTED


def share(total, i, k):
    """Process i of k's share of a pool bound: ceil(total/k) for the first total mod k,
    floor(total/k) for the rest, so the shares add up (src/workload/db/config.rs)."""
    k = max(k, 1)
    return total // k + (1 if i < total % k else 0)
