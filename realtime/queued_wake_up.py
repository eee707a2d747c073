"""Whether a wake-up of the relay is waiting in the queue: a mark in Redis that every committing
process reads (``realtime.relay_waker``) and each relay turn clears (``realtime.relay``)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


class QueuedWakeUp:
    """A mark in Redis, shared by every process that commits: a wake-up is waiting in the queue.

    Sending a wake-up (a Celery message) cost the committing process 0.8 ms of CPU, on a thread that
    shares its interpreter lock with the commits: one writer made 180 commits/s with a wake-up per
    commit and 303/s with none (``bench.measure.measure_commits``, this box, 2026-12-01). A wake-up
    waiting for a worker already covers every commit before the turn it starts looks, so while the mark
    is set a commit sends none. The turn clears the mark before it looks (``taken``), so a commit
    after that sends its own. The mark expires after the beat sweep's interval: a wake-up lost with a
    killed worker or a dropped message delays rows no longer than the sweep would.
    """

    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    @property
    def key(self) -> str:
        return f"{settings.CELERY_TASK_DEFAULT_QUEUE}:relay-wake-up-queued"

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._client

    def claim(self) -> bool:
        """True if this caller must send a wake-up: none was waiting, or Redis cannot say."""
        try:
            return bool(self._redis().set(self.key, 1, nx=True, px=int(settings.RELAY_SWEEP_SECONDS * 1000)))
        except redis.RedisError:
            return True

    def taken(self) -> None:
        """A turn is about to look for rows: later commits need a wake-up of their own."""
        try:
            self._redis().delete(self.key)
        except redis.RedisError as exc:
            # Not a warning: the mark expires within a sweep interval and the sweep relays what it held
            # back; and in a Redis outage the wake-up's own failure has said so already.
            logger.debug("could not clear the relay's queued wake-up mark (%s)", exc)


queued_wake_up = QueuedWakeUp()
