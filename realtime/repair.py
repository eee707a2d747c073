"""Delivering from the log what pub/sub lost, once per process per tick.

Redis pub/sub is at-most-once: a Redis restart, a dropped connection or a worker killed between
commit and publish loses messages silently. Every ``REALTIME_RECONCILE_SECONDS`` the process reads
the log head (one query for the whole process); if any socket is behind the head it read on the
*previous* tick, it reads the missing range once and offers each event to the sockets of its groups.
Repairing only events at least one tick old leaves pub/sub time to deliver them first; repairing
fresher ones races the live path and turns fast deliveries into late ones. Sockets drop what they
already delivered, by position, so a repaired event is never shown twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer
from django.conf import settings

from realtime import metrics
from realtime.db import db_read
from realtime.frames import LiveEvent
from realtime.reach import reach
from realtime.selectors import REPLAY_LIMIT, log_bounds, log_events

if TYPE_CHECKING:
    from realtime.hub import LiveHub

logger = logging.getLogger(__name__)


class LogRepair:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.settled_head = 0

    async def tick(self) -> int:
        """Deliver what the live stream missed; returns how many frames the repair sent."""
        live = [c for c in self.hub.consumers if c.cursor is not None and c.pending is None]
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
        rows = await db_read(log_events)(after=low, through=head, limit=REPLAY_LIMIT + 1)
        if len(rows) > REPLAY_LIMIT:
            for consumer in live:
                if consumer.cursor is not None and consumer.cursor.base < head - REPLAY_LIMIT:
                    await consumer.resync()
            rows = rows[-REPLAY_LIMIT:]
        repaired = 0
        for row in rows:
            repaired += await self.hub.fan_out(LiveEvent.from_log(row))
        for consumer in live:
            if consumer.cursor is not None and consumer.pending is None:
                consumer.cursor.advance(head)
        return repaired


async def repair_loop(hub: LiveHub) -> None:
    repair = LogRepair(hub)
    while True:
        await asyncio.sleep(settings.REALTIME_RECONCILE_SECONDS)
        try:
            await hub.rejoin_missing()
            repaired = await repair.tick()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database may be restarting; try again next tick
            logger.warning("reconciliation against the event log failed", exc_info=True)
        else:
            if repaired:
                metrics.repaired.inc(repaired)
                logger.info("delivered %s events from the log that pub/sub lost", repaired)
        await reach.flush(get_channel_layer())
