"""Delivering from the log what pub/sub lost, once per process per tick, at a cost per lost event.

Redis pub/sub is at-most-once: a Redis restart, a dropped connection or a worker killed between
commit and publish loses messages silently. Every ``REALTIME_RECONCILE_SECONDS`` the process reads
the log head (one query for the whole process) and the events between the head it read two ticks
ago and the one it read on the previous tick: repairing only events at least one tick old leaves
pub/sub time to deliver them first. Of those, the ones the hub never received and that concern a
cell it has sockets in are offered to those sockets; sockets drop what they already have, by
position, so a repaired event is never shown twice.

A tick then settles the sockets that were live all through it: every event up to the repaired head
has been offered to them, so their cursors may move past it. The hub records that floor once
(``LiveHub.settle``) and each socket applies it when it next builds a frame, so a tick costs nothing
per socket, only per event (a first version walked every socket every second: a fifth of the web
process's CPU at 6,000 sockets, by py-spy).

Why nothing is missed: a socket joins its cells' groups before it reads its snapshot or replay head
S, and holds what it is offered meanwhile. An event the hub received before the join has a position
at or below S. An event the hub missed is repaired to the sockets in its cells one tick later; a
socket that joined after that repair read S after the tick read its head, so S covers the event.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer
from django.conf import settings

from eventlog.selectors import log_bounds
from realtime import metrics
from realtime.db import db_read
from realtime.frames import LiveEvent
from realtime.reach import reach
from realtime.recent_log import recent_log
from realtime.selectors import REPLAY_LIMIT

if TYPE_CHECKING:
    from realtime.hub import LiveHub

logger = logging.getLogger(__name__)


class LogRepair:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.repaired_through = 0
        self.latest = 0
        self.epoch: str | None = None

    async def begin(self) -> None:
        """Read where repair starts, before the process's first socket reads its snapshot: every
        socket's snapshot is then at or past here, and any event after it that pub/sub loses is
        repaired (a first tick taken later missed the events lost between a socket's snapshot and it)."""
        self.repaired_through, _, self.epoch = await db_read(log_bounds)()
        self.latest = self.repaired_through
        metrics.followed_log.info({"epoch": self.epoch})

    async def tick(self) -> int:
        """Offer what the live stream missed; returns how many frames the repair sent."""
        hub = self.hub
        tick = hub.begin_tick()
        latest, _, epoch = await db_read(log_bounds)()
        if epoch != self.epoch or latest < self.latest:
            # Another log (a database restored or emptied): the sockets' cursors and the settled
            # positions belong to the old one, so every socket starts over from a snapshot of this one.
            logger.warning("the event log changed (epoch %s, head %s): every socket gets a fresh snapshot", epoch, latest)
            self.repaired_through, self.latest, self.epoch = latest, latest, epoch
            metrics.followed_log.info({"epoch": epoch})
            recent_log.forget()
            await hub.restart_log()
            return 0
        low, through = self.repaired_through, self.latest
        self.latest = latest
        repaired = 0
        if through > low and hub.members:
            rows = await db_read(recent_log.between)(after=low, through=through, epoch=epoch, limit=REPLAY_LIMIT + 1)
            if len(rows) > REPLAY_LIMIT:
                # Pub/sub was away for longer than a replay covers: every socket starts over.
                logger.warning(
                    "the repair is %s positions behind the log (after %s): every socket gets a fresh snapshot",
                    through - low, low,
                )
                metrics.resume_refusals.labels("repair_gap").inc(len(hub.consumers))
                for consumer in list(hub.consumers):
                    await consumer.resync()
                rows = rows[-REPLAY_LIMIT:]
            for row in rows:
                if hub.received(row.event_id):
                    continue
                event = LiveEvent.from_log(row)
                if any(group in hub.members for group in event.groups):
                    repaired += await hub.fan_out(event)
        self.repaired_through = through
        hub.settle(tick, through)
        return repaired


async def repair_loop(repair: LogRepair) -> None:
    hub = repair.hub
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
