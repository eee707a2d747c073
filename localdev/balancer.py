"""Fallback load balancer for ``make run WEB=n`` where nginx is not installed.

Round-robin at the TCP level, so HTTP and WebSocket upgrades pass through untouched; a backend that
refuses the connection is skipped. For production use nginx, HAProxy or the platform's balancer
(docs/deploy.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Callable


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: Callable[[], float] | None = None
) -> None:
    """Copy bytes one way until either side closes; ``delay_s`` holds each chunk back (fault tests)."""
    try:
        while data := await reader.read(65536):
            if delay_s is not None and (delay := delay_s()):
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listen_port: int, backends: list[int]) -> None:
    ring = itertools.cycle(backends)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(backends)):
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", next(ring))
            except OSError:
                continue
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            return
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--backends", required=True, help="comma-separated local ports")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, [int(p) for p in args.backends.split(",")]))


if __name__ == "__main__":
    main()
