"""A small TCP proxy for fault injection: cut every connection, refuse new ones, or add delay."""

from __future__ import annotations

import asyncio
import threading
import time

from localdev.balancer import pipe


class FaultProxy:
    """Listens on 127.0.0.1:``port`` and forwards to 127.0.0.1:``target_port`` on its own thread."""

    def __init__(self, target_port: int, port: int) -> None:
        self.target_port, self.port = target_port, port
        self.delay_s = 0.0
        self._cut_until = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, name="fault-proxy", daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", self.port))
        self._server = server
        self._ready.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._cut_until:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        def delay() -> float:
            return self.delay_s  # read for every chunk, so set_delay applies to open connections too

        await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, delay), return_exceptions=True)
        self._writers -= {writer, up_writer}

    def cut(self, seconds: float) -> None:
        """Drop every open connection and refuse new ones for ``seconds``."""
        self._cut_until = time.monotonic() + seconds

        def close_all() -> None:
            for writer in list(self._writers):
                writer.transport.abort()

        self._loop.call_soon_threadsafe(close_all)

    def set_delay(self, seconds: float) -> None:
        self.delay_s = seconds
