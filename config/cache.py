"""The default cache: Redis, and the process's own memory while Redis is away.

Redis is a cache and a pub/sub bus here; PostgreSQL is the record. The cache's only users are rate
limits (DRF's throttles), so an outage must degrade them, not fail the request: after an error the
cache uses a per-process memory cache for ``RETRY_AFTER_SECONDS`` (limits then count per process),
then tries Redis again.
"""

from __future__ import annotations

import logging
import time

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
FALLBACK_MAX_ENTRIES = 10_000
FAIL_SOFT_METHODS = (
    "add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear",
)


# Django makes a cache object per thread and per async context; what Redis's state is, and the
# fallback's counts, belong to the process (LocMemCache shares its storage by name).
_redis_away_until: dict[str, float] = {}


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._server_name = str(server)
        self._fallback = LocMemCache(
            f"fail-soft:{server}", {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES}}
        )

    @property
    def redis_away(self) -> bool:
        return time.monotonic() < _redis_away_until.get(self._server_name, 0.0)

    def mark_redis_away(self) -> None:
        _redis_away_until[self._server_name] = time.monotonic() + RETRY_AFTER_SECONDS


def _fail_soft(name: str):
    through_redis = getattr(RedisCache, name)

    def method(self: FailSoftRedisCache, *args, **kwargs):
        if not self.redis_away:
            try:
                return through_redis(self, *args, **kwargs)
            except redis.RedisError:
                self.mark_redis_away()
                logger.warning(
                    "cache: Redis unavailable, using this process's memory for %ss", RETRY_AFTER_SECONDS, exc_info=True
                )
        return getattr(self._fallback, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = through_redis.__doc__
    return method


for _name in FAIL_SOFT_METHODS:
    setattr(FailSoftRedisCache, _name, _fail_soft(_name))
