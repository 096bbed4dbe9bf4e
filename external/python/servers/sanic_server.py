"""py-sanic: a Sanic app (the talk's "Flask-like, but asynchronous"), one process on the
loop Sanic picks (uvloop, which is installed).

GET /        -> Hello, Anonymous
GET /{name}  -> Hello, {name}
GET /json    -> {"hello": "world"}
GET /bytes/n -> n bytes (a..z repeated)

Usage: python sanic_server.py --port PORT [--delay SECONDS] [--keep-alive true|false]
"""

import asyncio
import json
import sys

from sanic import Sanic
from sanic.log import LOGGING_CONFIG_DEFAULTS
from sanic.response import json as json_response, raw, text

from common import BACKLOG, bytes_body, parser, setup_process

args = parser(__doc__).parse_args()

# Sanic logs to stdout by default; these servers keep stdout empty: its logs go to stderr.
LOG_CONFIG = {
    **LOGGING_CONFIG_DEFAULTS,
    "handlers": {name: {**handler, "stream": sys.stderr}
                 for name, handler in LOGGING_CONFIG_DEFAULTS["handlers"].items()},
}

# dumps=json.dumps: Sanic's default (ujson when installed) writes {"hello":"world"} without
# the space after the colon, and the client checks the body byte for byte.
app = Sanic("iobench", dumps=json.dumps, log_config=LOG_CONFIG)
# KEEP_ALIVE False: every reply says "Connection: close", and Sanic closes after it.
app.config.KEEP_ALIVE = args.keep_alive
app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 1.0


if args.delay:
    # A request middleware that returns nothing lets the request go on to its handler.
    @app.on_request
    async def wait(request):
        await asyncio.sleep(args.delay)


# The talk's slide.
@app.get("/json")
async def test(request):
    return json_response({"hello": "world"})


@app.get("/")
async def anonymous(request):
    return text("Hello, Anonymous")


@app.get("/bytes/<n:int>")
async def some_bytes(request, n):
    body = bytes_body(n)
    if body is None:
        return text("not found", status=404)
    return raw(body, content_type="text/plain; charset=utf-8")


@app.get("/<name>")
async def hello(request, name):
    return text("Hello, " + name)


if __name__ == "__main__":
    setup_process()
    # single_process: no worker manager process, no auto-reload. Sanic stops on SIGTERM,
    # except in the first milliseconds after its port opens: a SIGTERM that comes while
    # its startup listeners run is lost (iobench ends a server with SIGKILL anyway).
    app.run(host="127.0.0.1", port=args.port, single_process=True, access_log=False,
            motd=False, auto_reload=False, backlog=BACKLOG)
