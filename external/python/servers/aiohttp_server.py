"""py-aiohttp: the talk's aiohttp server, one process on asyncio's own event loop.

GET /        -> Hello, Anonymous
GET /{name}  -> Hello, {name}
GET /json    -> {"hello": "world"}
GET /bytes/n -> n bytes (a..z repeated)

Usage: python aiohttp_server.py --port PORT [--delay SECONDS] [--keep-alive true|false]
"""

import asyncio

from aiohttp import web

from common import BACKLOG, bytes_body, parser, setup_process

args = parser(__doc__).parse_args()


# The talk's handler, as on its slide.
async def handle(request):
    name = request.match_info.get("name", "Anonymous")
    text = "Hello, " + name
    return web.Response(text=text)


async def hello_json(request):
    # aiohttp's json_response uses json.dumps: {"hello": "world"}, with the space.
    return web.json_response({"hello": "world"})


async def some_bytes(request):
    body = bytes_body(int(request.match_info["n"]))
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


# Installed only when asked for, so that the default case pays for no middleware.
@web.middleware
async def wait_then_maybe_close(request, handler):
    if args.delay:
        await asyncio.sleep(args.delay)
    response = await handler(request)
    if not args.keep_alive:
        response.force_close()  # "Connection: close", and aiohttp closes after the reply
    return response


middlewares = [wait_then_maybe_close] if args.delay or not args.keep_alive else []
app = web.Application(middlewares=middlewares)
app.router.add_get("/", handle)
app.router.add_get("/json", hello_json)  # before /{name}, which would match it too
app.router.add_get(r"/bytes/{n:\d+}", some_bytes)
app.router.add_get("/{name}", handle)

if __name__ == "__main__":
    setup_process()
    # print=None: run_app's banner would go to stdout. run_app stops on SIGTERM and SIGINT.
    web.run_app(app, host="127.0.0.1", port=args.port, backlog=BACKLOG, access_log=None,
                print=None, shutdown_timeout=1.0)
