"""Publishing to the channel layer from synchronous code (Celery workers, management commands).

The layer is asyncio code that binds its Redis connections to the loop that first used them. Calling
``async_to_sync(group_send)`` from a worker makes a new loop each call, leaking connections and tripping
over closed loops. Instead each process owns one loop on a daemon thread, and a private layer instance
that lives on it; a forked child notices the pid change and starts its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from typing import Any

from channels.layers import channel_layers
from django.conf import settings

PUBLISH_TIMEOUT_SECONDS = 5.0


class LayerPublisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer = None

    def _ensure_started(self) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._loop is not None and self._loop.is_running():
                return
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="channel-layer-publisher", daemon=True)
            thread.start()
            self._loop, self._pid = loop, os.getpid()
            self._layer = channel_layers.make_backend("default")

    def publish(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Send each ``(group, message)``; raises if the layer (Redis) fails or times out."""
        self._ensure_started()
        batch = list(messages)

        async def send_all() -> None:
            for group, message in batch:
                await self._layer.group_send(group, message)

        future = asyncio.run_coroutine_threadsafe(send_all(), self._loop)
        try:
            future.result(timeout=PUBLISH_TIMEOUT_SECONDS + 0.01 * len(batch))
        except BaseException:
            # A hung send would otherwise hold the layer's connection lock for every later batch.
            future.cancel()
            raise


publisher = LayerPublisher()
