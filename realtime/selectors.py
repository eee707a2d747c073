"""What a subscription reads from the event log: its snapshot and its replay after a cursor, shared
by the socket and the polling feed."""

from __future__ import annotations

from typing import Any

from discounts.selectors import deals_search
from discounts.serializers import deal_data
from eventlog.selectors import LogEvent, log_bounds, log_head_mark
from realtime import metrics
from realtime.cursor import Cursor
from realtime.recent_log import recent_log
from realtime.snapshots import SNAPSHOT_LIMIT, Snapshot, city, snapshot_from_copy
from realtime.subscriptions import Subscription

REPLAY_LIMIT = 2000
# A resume that would send more frames than this gets a snapshot instead: its cost is then the size of
# the area, not of the gap (one subscribe 2,000 positions back cost 3.5 MB and 0.14 s of CPU).
REPLAY_MAX_FRAMES = 200


class CursorTooOld(Exception):
    """The cursor cannot be resumed from this log: it points before the retained log, the gap is too
    long to replay, or it is from another epoch or ahead of the head. The client needs a fresh snapshot."""


def _refused(reason: str) -> CursorTooOld:
    """A refusal, counted by why in ``dealcast_resume_refusals_total`` (for sockets and the feed alike)."""
    metrics.resume_refusals.labels(reason).inc()
    return CursorTooOld(reason)


def area_snapshot(sub: Subscription) -> Snapshot:
    """The active deals in the area and the log position they reflect.

    The head is read first, then the deals, each in its own statement: an event gets its position
    only after the change it describes committed, so every event at or below ``head`` is already
    reflected in ``deals``. Later events may repeat what the deals show; applying them again is
    harmless. The deals come from the process's copy of the city (``realtime.snapshots``) when it
    has one as of this head.
    """
    head, event_id, epoch = log_head_mark()
    if event_id is not None:
        copy = city.at((head, event_id))
        if copy is not None:
            return snapshot_from_copy(copy, sub, head, epoch)
    return Snapshot(deals=area_deals_queried(sub), head=head, epoch=epoch)


def area_deals_queried(sub: Subscription) -> list[dict[str, Any]]:
    """The area's active deals straight from the database, nearest first."""
    deals = deals_search(
        lat=sub.lat, lng=sub.lng, radius_km=sub.radius_km,
        category_ids=sub.categories, ordering="distance",
    )[:SNAPSHOT_LIMIT]
    return [deal_data(deal, distance_km=getattr(deal, "distance_km", None)) for deal in deals]


def events_after(*, sub: Subscription, cursor: Cursor) -> tuple[list[tuple[LogEvent, float]], int]:
    """The subscription's events after ``cursor``, each with its distance, and the new head.

    Raises ``CursorTooOld`` when the cursor predates the retained log, belongs to another epoch or is
    ahead of it, or the gap is too long to replay (more than ``REPLAY_MAX_FRAMES`` events to send).
    """
    head, floor, epoch = log_bounds()
    if cursor.epoch != epoch:
        raise _refused("epoch")
    if cursor.base > head:
        raise _refused("ahead")
    if cursor.base < floor:
        raise _refused("pruned")
    events = recent_log.between(
        after=cursor.base, through=head, epoch=epoch, cells=frozenset(sub.cells), limit=REPLAY_LIMIT + 1
    )
    if len(events) > REPLAY_LIMIT:
        raise _refused("gap")
    matched = []
    for event in events:
        if cursor.seen(event.position):
            continue
        distance = sub.match(event.footprints)
        if distance is not None:
            matched.append((event, distance))
            if len(matched) > REPLAY_MAX_FRAMES:
                raise _refused("frames")
    return matched, head
