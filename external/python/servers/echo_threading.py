"""py-echo-threading: the tcp-echo server on socketserver, a thread per connection
(ThreadingTCPServer), each blocking in its handler (time.sleep for --delay).

A frame: an 8-byte header (u32 little-endian payload length, u32 little-endian delay in
microseconds, ignored here: the server waits --delay) and the payload. The whole frame is
written back unchanged, header included.

Usage: python echo_threading.py --port PORT [--delay SECONDS] [--keep-alive true|false]
"""

import socketserver
import struct
import time

from common import (BACKLOG, HEADER, MAX_FRAME, exit_on_sigterm, parser,
                    setup_process)

args = parser(__doc__).parse_args()


class Echo(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # an echo goes out at once

    def handle(self):
        try:
            while True:
                header = self.rfile.read(HEADER)  # buffered: HEADER bytes, or fewer at EOF
                if len(header) < HEADER:
                    return  # the client closed
                (length,) = struct.unpack_from("<I", header)
                if length > MAX_FRAME:
                    return  # too long: close
                payload = self.rfile.read(length)
                if len(payload) < length:
                    return
                if args.delay:
                    time.sleep(args.delay)
                self.wfile.write(header + payload)  # unbuffered: sendall
                if not args.keep_alive:
                    return  # one echo per connection
        except ConnectionError:
            pass  # the client went away


class Server(socketserver.ThreadingTCPServer):
    request_queue_size = BACKLOG  # the listen backlog (socketserver's default is 5)
    allow_reuse_address = True
    daemon_threads = True  # exiting does not wait for the connections' threads


if __name__ == "__main__":
    setup_process()
    exit_on_sigterm()
    with Server(("127.0.0.1", args.port), Echo) as server:
        server.serve_forever()
