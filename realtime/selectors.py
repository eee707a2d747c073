"""Reads of the event log, shared by the socket (snapshot, replay, repair) and the polling feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from discounts.selectors import deals_search
from discounts.serializers import deal_data
from realtime.cursor import Cursor
from realtime.models import LogHead, OutboxEvent
from realtime.subscriptions import Subscription

REPLAY_LIMIT = 2000
SNAPSHOT_LIMIT = 500


class CursorTooOld(Exception):
    """The cursor points before the retained log; the client needs a fresh snapshot."""


@dataclass(frozen=True)
class LogEvent:
    position: int
    envelope: dict[str, Any]
    footprints: list[list[Any]]
    cells: list[str]
    deal_id: int
    market_id: int
    type: str

    @property
    def deal(self) -> list:
        return [self.deal_id, self.market_id, self.type]


@dataclass(frozen=True)
class Snapshot:
    deals: list[dict[str, Any]]
    head: int


def log_bounds() -> tuple[int, int]:
    """(head, pruned_through): the last committed position and the replay floor."""
    head = LogHead.objects.filter(pk=1).values_list("position", "pruned_through").first()
    return head or (0, 0)


def area_snapshot(sub: Subscription) -> Snapshot:
    """The active deals in the area and the log position they reflect, read in one snapshot.

    Every event at or below ``head`` is already reflected in ``deals``; later events may repeat what
    the deals show, and applying them again is harmless.
    """
    with transaction.atomic():
        head, _ = log_bounds()
        deals = deals_search(
            lat=sub.lat, lng=sub.lng, radius_km=sub.radius_km,
            categories=sorted(sub.categories) if sub.categories else None, ordering="distance",
        )[:SNAPSHOT_LIMIT]
        data = [deal_data(deal, distance_km=getattr(deal, "distance_km", None)) for deal in deals]
    return Snapshot(deals=data, head=head)


def log_events(*, after: int, through: int, cells: frozenset[str] | None = None, limit: int = REPLAY_LIMIT) -> list[LogEvent]:
    """Events with ``after < position <= through``, optionally only those routed to ``cells``."""
    rows = OutboxEvent.objects.filter(position__gt=after, position__lte=through)
    if cells is not None:
        rows = rows.filter(cells__overlap=list(cells))
    values = rows.order_by("position").values_list(
        "position", "envelope", "footprints", "cells", "deal_id", "market_id", "type"
    )[:limit]
    return [LogEvent(*row) for row in values]


def events_after(*, sub: Subscription, cursor: Cursor) -> tuple[list[tuple[LogEvent, float]], int]:
    """The subscription's events after ``cursor``, each with its distance, and the new head.

    Raises ``CursorTooOld`` when the cursor predates the retained log or the gap is too long to replay.
    """
    head, floor = log_bounds()
    if cursor.base < floor:
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
    return matched, head
