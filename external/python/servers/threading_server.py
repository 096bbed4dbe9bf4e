"""py-threading: the standard library's http.server, a thread per connection
(ThreadingHTTPServer), each blocking in its handler (time.sleep for --delay).

GET /        -> Hello, Anonymous
GET /{name}  -> Hello, {name}
GET /json    -> {"hello": "world"}
GET /bytes/n -> n bytes (a..z repeated)

Usage: python threading_server.py --port PORT [--delay SECONDS] [--keep-alive true|false]
"""

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import BACKLOG, exit_on_sigterm, parser, route, setup_process

args = parser(__doc__).parse_args()


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1: the connection stays open for the next request (the default, HTTP/1.0,
    # closes after each reply), so a connection holds its thread until the client closes.
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: without TCP_NODELAY the body could wait
    # for the client's delayed ACK of the head (Nagle), some 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self):
        if args.delay:
            time.sleep(args.delay)
        found = route(self.path.split("?", 1)[0])  # self.path: as sent
        if found is None:
            self.send_error(404)
            return
        body, kind = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if not args.keep_alive:
            self.send_header("Connection", "close")  # and the handler closes after it
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        pass  # no access log (errors are still logged on stderr)


class Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG  # the listen backlog (socketserver's default is 5)
    # daemon_threads is True in ThreadingHTTPServer: exiting does not wait for connections.


if __name__ == "__main__":
    setup_process()
    exit_on_sigterm()
    with Server(("127.0.0.1", args.port), Handler) as server:
        server.serve_forever()
