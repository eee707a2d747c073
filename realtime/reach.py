"""How many shoppers each deal reached: a shopper counts once their page showed it, whichever way
it got there (a socket's snapshot, a live event, or the polling page's list and changes), and once
however often it was shown.

Each web process buffers (deal, shopper) pairs and flushes them once a second into a Redis
HyperLogLog per deal (distinct shoppers, a fixed 12 KB per deal, ~1% error), then tells the deal's
market staff group that the figures moved. Counting is best-effort: a process killed between
flushes under-counts by at most a second. The polling page's requests record theirs at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import redis.asyncio as aioredis
from django.conf import settings

from realtime.groups import staff_group

logger = logging.getLogger(__name__)

TTL_SECONDS = 60 * 60 * 24 * 30


def reach_key(deal_id: int) -> str:
    """Under the deployment's prefix, as its channel layer is: a test run, or a second deployment on the
    same Redis, keeps counts of its own (an emptied database numbers its deals from 1 again)."""
    return f"{settings.CHANNEL_LAYER_PREFIX}:reach:{deal_id}"


class ReachCounter:
    def __init__(self) -> None:
        self.pending: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._redis: aioredis.Redis | None = None

    def record(self, *, deal_id: int, market_id: int, user_id: int) -> None:
        self.pending[(deal_id, market_id)].add(user_id)

    async def flush(self, channel_layer) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, defaultdict(set)
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(settings.REDIS_URL, max_connections=4)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for (deal_id, _), users in batch.items():
                    key = reach_key(deal_id)
                    pipe.pfadd(key, *users)
                    pipe.expire(key, TTL_SECONDS)
                await pipe.execute()
            for market_id in {market_id for _, market_id in batch}:
                await channel_layer.group_send(staff_group(market_id), {"type": "staff.changed"})
        except Exception:  # noqa: BLE001 - figures for staff, never worth failing a delivery over
            logger.warning("could not flush reach counts", exc_info=True)


def record_shown_now(*, shown: list[tuple[int, int]], user_id: int) -> None:
    """Count ``shown`` (deal, market) pairs as reached by ``user_id`` now (sync, for HTTP views)."""
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    if not shown:
        return
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        with client.pipeline(transaction=False) as pipe:
            for deal_id, _ in shown:
                pipe.pfadd(reach_key(deal_id), user_id)
                pipe.expire(reach_key(deal_id), TTL_SECONDS)
            pipe.execute()
        for market_id in {market_id for _, market_id in shown}:
            async_to_sync(get_channel_layer().group_send)(staff_group(market_id), {"type": "staff.changed"})
    except Exception:  # noqa: BLE001 - figures for staff, never worth failing a shopper's request over
        logger.warning("could not record reach", exc_info=True)
    finally:
        client.close()


def reach_counts(deal_ids: list[int]) -> dict[int, int]:
    """Distinct shoppers reached per deal (sync, for selectors); empty while Redis is away."""
    import redis

    if not deal_ids:
        return {}
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        with client.pipeline(transaction=False) as pipe:
            for deal_id in deal_ids:
                pipe.pfcount(reach_key(deal_id))
            return dict(zip(deal_ids, pipe.execute()))
    except redis.RedisError:
        logger.warning("reach counts unavailable: Redis is away")
        return {}
    finally:
        client.close()


reach = ReachCounter()
