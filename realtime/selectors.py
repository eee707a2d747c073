"""Reads of the event log, shared by the socket (snapshot, replay, repair) and the polling feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection

from discounts.selectors import deals_search
from discounts.serializers import deal_data
from realtime.cursor import Cursor
from realtime.models import LogHead, OutboxEvent
from realtime.snapshots import SNAPSHOT_LIMIT, Snapshot, city, snapshot_from_copy
from realtime.subscriptions import Subscription

REPLAY_LIMIT = 2000
# A resume that would send more frames than this gets a snapshot instead: its cost is then the size of
# the area, not of the gap (one subscribe 2,000 positions back cost 3.5 MB and 0.14 s of CPU).
REPLAY_MAX_FRAMES = 200


class CursorTooOld(Exception):
    """The cursor cannot be resumed from this log: it points before the retained log, the gap is too
    long to replay, or it is from another epoch or ahead of the head. The client needs a fresh snapshot."""


class LogBounds(NamedTuple):
    head: int
    floor: int
    epoch: str


@dataclass(frozen=True)
class LogEvent:
    position: int
    envelope: dict[str, Any]
    footprints: list[list[Any]]
    cells: list[str]
    deal_id: int
    market_id: int
    type: str
    event_id: str

    @property
    def deal(self) -> list:
        return [self.deal_id, self.market_id, self.type]


def log_bounds() -> LogBounds:
    """The last committed position, the replay floor (pruned through) and the log's epoch."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT position, pruned_through, epoch FROM realtime_loghead WHERE id = 1")
        row = cursor.fetchone()
    return LogBounds(*row) if row else LogBounds(0, 0, _empty_log_epoch())


def _empty_log_epoch() -> str:
    """The epoch of a log nothing was sequenced in yet: its head row is made now, so cursors issued
    before the first event stay valid after it."""
    return LogHead.objects.get_or_create(pk=1)[0].epoch


def log_head_mark() -> tuple[int, str | None, str]:
    """The head, the id of the event at it and the epoch: which log, not only how far (positions
    restart when a database is emptied or restored, ids do not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT h.position, e.event_id::text, h.epoch FROM realtime_loghead h"
            " LEFT JOIN realtime_outboxevent e ON e.position = h.position WHERE h.id = 1"
        )
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row else (0, None, _empty_log_epoch())


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


def log_events(*, after: int, through: int, cells: frozenset[str] | None = None, limit: int = REPLAY_LIMIT) -> list[LogEvent]:
    """Events with ``after < position <= through``, optionally only those routed to ``cells``."""
    rows = OutboxEvent.objects.filter(position__gt=after, position__lte=through)
    if cells is not None:
        rows = rows.filter(cells__overlap=list(cells))
    values = rows.order_by("position").values_list(
        "position", "envelope", "footprints", "cells", "deal_id", "market_id", "type", "event_id"
    )[:limit]
    return [LogEvent(*row[:-1], str(row[-1])) for row in values]


def events_after(*, sub: Subscription, cursor: Cursor) -> tuple[list[tuple[LogEvent, float]], int]:
    """The subscription's events after ``cursor``, each with its distance, and the new head.

    Raises ``CursorTooOld`` when the cursor predates the retained log, belongs to another epoch or is
    ahead of it, or the gap is too long to replay (more than ``REPLAY_MAX_FRAMES`` events to send).
    """
    head, floor, epoch = log_bounds()
    if cursor.epoch != epoch or cursor.base > head or cursor.base < floor:
        raise CursorTooOld()
    events = log_events(after=cursor.base, through=head, cells=sub.cells, limit=REPLAY_LIMIT + 1)
    if len(events) > REPLAY_LIMIT:
        raise CursorTooOld()
    matched = []
    for event in events:
        if cursor.seen(event.position):
            continue
        distance = sub.match(event.footprints)
        if distance is not None:
            matched.append((event, distance))
            if len(matched) > REPLAY_MAX_FRAMES:
                raise CursorTooOld()
    return matched, head


def previous_envelope(*, deal_id: int, before: int) -> dict[str, Any] | None:
    """The deal's last event before position ``before`` (what it said then), if the log still has it."""
    return (
        OutboxEvent.objects.filter(deal_id=deal_id, position__lt=before)
        .order_by("-position").values_list("envelope", flat=True).first()
    )
