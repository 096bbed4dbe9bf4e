"""py-gunicorn-sync: a WSGI app under gunicorn's sync workers, the pre-forked processes
model: a master and --workers processes forked from it, each accepting on the shared
listening socket and serving one request at a time, blocking (time.sleep for --delay).

GET /        -> Hello, Anonymous
GET /{name}  -> Hello, {name}
GET /json    -> {"hello": "world"}
GET /bytes/n -> n bytes (a..z repeated)

Keep-alive: gunicorn's sync workers do not keep connections: every reply says
"Connection: close" and the worker closes after it, whatever --keep-alive says (a sync
worker kept on an idle connection could serve no one else). A keep-alive client therefore
reconnects before each request; iobench counts those connects (`connects`), and the cost
of a TCP handshake per request is part of what this model measures. After each reply the
worker half-closes and waits (up to 2 s) for the client's FIN before it takes the next
connection (gunicorn's close_graceful): a client that closes at once, as iobench's does,
costs it a round trip; one that keeps the socket open holds the worker.

Usage: python gunicorn_sync.py --port PORT [--workers N] [--delay SECONDS]
                               [--keep-alive true|false]
"""

import time

from gunicorn.app.base import BaseApplication

from common import BACKLOG, die_with_parent, parser, route, setup_process

args = parser(__doc__, workers=True).parse_args()


def app(environ, start_response):
    """The WSGI app: the path's body, with a Content-Length (so no chunked encoding)."""
    if args.delay:
        time.sleep(args.delay)
    # RAW_URI (gunicorn's): the path as sent; PATH_INFO has its %-escapes decoded.
    found = route(environ["RAW_URI"].split("?", 1)[0])
    if found is None:
        headers = [("Content-Type", "text/plain"), ("Content-Length", "9")]
        start_response("404 Not Found", headers)
        return [b"not found"]
    body, kind = found
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


def post_fork(server, worker):
    # An idle sync worker checks for its master only when its wait times out (every
    # `timeout`, 30 s): have Linux send it SIGTERM as soon as the master exits.
    die_with_parent(parent=server.pid)


class Server(BaseApplication):
    """gunicorn run from Python, so that the command is this file (no gunicorn CLI)."""

    def load_config(self):
        settings = {
            "bind": f"127.0.0.1:{args.port}",
            "workers": args.workers,
            "worker_class": "sync",
            "backlog": BACKLOG,
            "accesslog": None,  # off (it is by default): it costs per request
            "errorlog": "-",  # stderr
            "graceful_timeout": 1,  # SIGTERM: workers finish their request, within 1 s
            "control_socket_disable": True,  # no gunicornc socket under $HOME
            "post_fork": post_fork,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return app


if __name__ == "__main__":
    setup_process()  # the master: this process
    Server().run()
