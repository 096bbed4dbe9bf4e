"""py-echo-prefork: the tcp-echo server as a pre-forked pool: the master listens, then
forks --workers processes that each accept on the shared listening socket and serve one
connection at a time, blocking (time.sleep for --delay). With keep-alive a connection
holds its worker until the client closes it: clients beyond --workers wait in the
listen backlog for one.

A frame: an 8-byte header (u32 little-endian payload length, u32 little-endian delay in
microseconds, ignored here: the server waits --delay) and the payload. The whole frame is
written back unchanged, header included.

The master only waits: on SIGTERM it stops the workers and exits; if a worker dies, it
stops the rest and exits with status 1 (a broken pool should fail the trial, not limp on).
Workers get SIGTERM when the master goes (PR_SET_PDEATHSIG).

Usage: python echo_prefork.py --port PORT [--workers N] [--delay SECONDS]
                              [--keep-alive true|false]
"""

import os
import signal
import socket
import struct
import sys
import time

from common import (BACKLOG, HEADER, MAX_FRAME, die_with_parent, exit_on_sigterm,
                    parser, setup_process)

args = parser(__doc__, workers=True).parse_args()


def serve(conn):
    """Echoes frames on one connection until the client closes it."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn, conn.makefile("rb") as rfile:
        while True:
            header = rfile.read(HEADER)  # buffered: reads until HEADER bytes or EOF
            if len(header) < HEADER:
                return  # the client closed
            (length,) = struct.unpack_from("<I", header)
            if length > MAX_FRAME:
                return  # too long: close
            payload = rfile.read(length)
            if len(payload) < length:
                return
            if args.delay:
                time.sleep(args.delay)
            conn.sendall(header + payload)
            if not args.keep_alive:
                return  # one echo per connection


def worker(listener, master):
    die_with_parent(parent=master)
    while True:
        conn, _ = listener.accept()
        try:
            serve(conn)
        except ConnectionError:
            pass  # the client went away


def main():
    exit_on_sigterm()  # inherited by the workers: SIGTERM raises SystemExit in each
    listener = socket.create_server(("127.0.0.1", args.port), backlog=BACKLOG)
    master = os.getpid()
    children = []
    try:
        for _ in range(args.workers):
            pid = os.fork()
            if pid == 0:
                try:
                    worker(listener, master)
                finally:
                    os._exit(0)  # never back into the master's code
            children.append(pid)
        pid, status = os.wait()  # returns only if a worker died
        print(f"worker {pid} exited ({status:#x}); stopping", file=sys.stderr)
        children.remove(pid)
        sys.exit(1)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


if __name__ == "__main__":
    setup_process()
    main()
