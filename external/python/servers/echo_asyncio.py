"""py-echo-asyncio and py-echo-uvloop: the tcp-echo server on asyncio streams, one
process, a task per connection; --uvloop runs it on uvloop's event loop instead of
asyncio's own.

A frame: an 8-byte header (u32 little-endian payload length, u32 little-endian delay in
microseconds, ignored here: the server waits --delay) and the payload. The whole frame is
written back unchanged, header included.

Usage: python echo_asyncio.py --port PORT [--uvloop] [--delay SECONDS]
                              [--keep-alive true|false]
"""

import asyncio
import signal
import struct

from common import BACKLOG, HEADER, MAX_FRAME, parser, setup_process

options = parser(__doc__)
options.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
args = options.parse_args()


async def echo(reader, writer):
    try:
        while True:
            header = await reader.readexactly(HEADER)
            (length,) = struct.unpack_from("<I", header)
            if length > MAX_FRAME:
                break  # too long: close
            payload = await reader.readexactly(length)
            if args.delay:
                await asyncio.sleep(args.delay)
            writer.write(header + payload)
            await writer.drain()
            if not args.keep_alive:
                break  # one echo per connection
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", args.port, backlog=BACKLOG)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    # Not `async with server`: its wait_closed() would wait for every client to close.
    # Returning cancels the connections' tasks.
    server.close()


if __name__ == "__main__":
    setup_process()
    if args.uvloop:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
