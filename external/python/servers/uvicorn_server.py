"""py-uvicorn-uvloop: a bare ASGI app (no framework) under uvicorn, on uvloop with the
httptools parser, one process.

GET /        -> Hello, Anonymous
GET /{name}  -> Hello, {name}
GET /json    -> {"hello": "world"}
GET /bytes/n -> n bytes (a..z repeated)

Usage: python uvicorn_server.py --port PORT [--delay SECONDS] [--keep-alive true|false]
"""

import asyncio

import uvicorn

from common import BACKLOG, exit_on_sigterm, parser, route, setup_process

args = parser(__doc__).parse_args()


async def app(scope, receive, send):
    """The ASGI app: one http.response.start and one body, with a Content-Length (so no
    chunked encoding)."""
    if args.delay:
        await asyncio.sleep(args.delay)
    # raw_path: the path as sent, without the query; scope["path"] is %-decoded.
    found = route(scope["raw_path"].decode("latin-1"))
    status, (body, kind) = (200, found) if found else (404, (b"not found", "text/plain"))
    headers = [(b"content-type", kind.encode()), (b"content-length", b"%d" % len(body))]
    if not args.keep_alive:
        # uvicorn reads this header of the app's: it closes the connection after the reply.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    setup_process()
    # uvicorn stops on SIGTERM (waiting at most 1 s for open requests), then hands the
    # signal to the handler that was there before it: this one exits with status 0 rather
    # than dying of the signal.
    exit_on_sigterm()
    # lifespan="off": the app has no startup or shutdown; ws="none": no websockets import.
    # uvicorn logs on stderr.
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                ws="none", lifespan="off", access_log=False, backlog=BACKLOG,
                timeout_graceful_shutdown=1)
