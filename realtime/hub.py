"""The web process's view of its live connections, and the repair of what pub/sub lost.

Redis pub/sub is at-most-once: a Redis restart, a dropped connection or a worker killed between
commit and publish loses messages silently. Every ``REALTIME_RECONCILE_SECONDS`` the hub reads the
log head (one query for the whole process); if any connection is behind the head it read on the
*previous* tick, it reads the missing range once and hands each event to the connections whose cells
it touches. Repairing only events at least one tick old leaves pub/sub time to deliver them first;
repairing fresher ones races the live path and turns fast deliveries into late ones. Connections
drop what they already delivered, by position, so a repaired event is never shown twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer
from django.conf import settings

from realtime import metrics
from realtime.db import db_read
from realtime.reach import reach
from realtime.selectors import REPLAY_LIMIT, log_bounds, log_events

if TYPE_CHECKING:
    from realtime.consumers import DealsConsumer

logger = logging.getLogger(__name__)


class LiveHub:
    def __init__(self) -> None:
        self.consumers: set[DealsConsumer] = set()
        self.by_cell: dict[str, set[DealsConsumer]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.settled_head = 0

    def register(self, consumer: DealsConsumer) -> None:
        self.consumers.add(consumer)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def unregister(self, consumer: DealsConsumer) -> None:
        self.consumers.discard(consumer)
        self.route(consumer, old=consumer.cells, new=frozenset())

    def route(self, consumer: DealsConsumer, *, old: frozenset[str], new: frozenset[str]) -> None:
        for cell in old - new:
            members = self.by_cell.get(cell)
            if members is not None:
                members.discard(consumer)
                if not members:
                    del self.by_cell[cell]
        for cell in new - old:
            self.by_cell[cell].add(consumer)

    async def _run(self) -> None:
        while self.consumers:
            await asyncio.sleep(settings.REALTIME_RECONCILE_SECONDS)
            try:
                repaired = await self.reconcile()
            except Exception:  # noqa: BLE001 - the database may be restarting; try again next tick
                logger.warning("reconciliation against the event log failed", exc_info=True)
            else:
                if repaired:
                    metrics.repaired.inc(repaired)
                    logger.info("delivered %s events from the log that pub/sub lost", repaired)
            await reach.flush(get_channel_layer())

    async def reconcile(self) -> int:
        """Deliver what the live stream missed; returns how many events were repaired."""
        live = [c for c in self.consumers if c.cursor is not None]
        if not live:
            return 0
        latest, _ = await db_read(log_bounds)()
        if latest < self.settled_head:
            # The log was emptied (a test database being flushed): start over from it.
            self.settled_head = latest
            return 0
        head, self.settled_head = self.settled_head, latest
        low = min(c.cursor.base for c in live)
        if head <= low:
            return 0
        events = await db_read(log_events)(after=low, through=head, limit=REPLAY_LIMIT + 1)
        if len(events) > REPLAY_LIMIT:
            for consumer in live:
                if consumer.cursor is not None and consumer.cursor.base < head - REPLAY_LIMIT:
                    await consumer.resync()
            events = events[-REPLAY_LIMIT:]
        repaired = 0
        for event in events:
            targets = set().union(*(self.by_cell.get(cell, ()) for cell in event.cells))
            for consumer in targets:
                repaired += await consumer.deliver(event.position, event.envelope, event.footprints, event.deal)
        for consumer in live:
            if consumer.cursor is not None:
                consumer.cursor.advance(head)
        return repaired


hub = LiveHub()
