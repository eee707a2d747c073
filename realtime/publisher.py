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
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.layers import channel_layers

PUBLISH_TIMEOUT_SECONDS = 5.0
# PUBLISH each ARGV[i] to channel KEYS[i].
PUBLISH_ALL = "for i = 1, #KEYS do redis.call('PUBLISH', KEYS[i], ARGV[i]) end"


@dataclass(frozen=True)
class Sending:
    """Messages on their way to Redis."""

    future: Future
    size: int

    def wait(self) -> datetime:
        """When they were sent, once they were; raise if sending failed or timed out."""
        try:
            return self.future.result(timeout=PUBLISH_TIMEOUT_SECONDS + 0.01 * self.size)
        except BaseException:
            # A hung send would otherwise hold the layer's connection lock for every later batch.
            self.future.cancel()
            raise


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
        self.begin(messages).wait()

    def begin(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> Sending:
        """Start sending each ``(group, message)`` on the layer's thread and return at once.

        The relay sequences its next batch while this one travels to Redis.
        """
        self._ensure_started()
        batch = list(messages)
        return Sending(asyncio.run_coroutine_threadsafe(self._publish_batched(batch), self._loop), len(batch))

    async def _publish_batched(self, batch: list[tuple[str, dict[str, Any]]]) -> datetime:
        """What ``group_send`` does for each message, in one command per Redis shard.

        ``group_send`` awaits one PUBLISH at a time under the shard's lock (~0.4 ms each); a batch of
        200 events to 3 groups would take a quarter of a second. The layer still names the channels,
        serializes and picks the shard; only the commands are pooled. Relies on the pub/sub layer's
        loop-layer helpers of channels-redis 4.3 (pinned).

        The PUBLISHes run in one small script rather than a pipeline: redis-py's asyncio client reads
        each pipelined reply under its own timeout, which was a quarter of the relay's CPU (py-spy, a
        20,000-event relay); the script has one reply.
        """
        loop_layer = self._layer._get_layer()
        by_shard: dict[Any, tuple[list[str], list[bytes]]] = {}
        # One message often goes to several groups (an event to each of its cells): encode it once.
        encoded: dict[int, bytes] = {}
        for group, message in batch:
            channel = loop_layer._get_group_channel_name(group)
            payload = encoded.get(id(message))
            if payload is None:
                payload = encoded[id(message)] = self._layer.serialize(message)
            channels, payloads = by_shard.setdefault(loop_layer._get_shard(channel), ([], []))
            channels.append(channel)
            payloads.append(payload)
        for shard, (channels, payloads) in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                await shard._redis.eval(PUBLISH_ALL, len(channels), *channels, *payloads)
        return datetime.now(UTC)


publisher = LayerPublisher()
