"""Reads of the event log: its bounds, its events in position order, a deal's earlier envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection

from eventlog.models import LogHead, OutboxEvent


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


def log_events(*, after: int, through: int, cells: frozenset[str] | None = None, limit: int) -> list[LogEvent]:
    """Events with ``after < position <= through``, optionally only those routed to ``cells``."""
    rows = OutboxEvent.objects.filter(position__gt=after, position__lte=through)
    if cells is not None:
        rows = rows.filter(cells__overlap=list(cells))
    values = rows.order_by("position").values_list(
        "position", "envelope", "footprints", "cells", "deal_id", "market_id", "type", "event_id"
    )[:limit]
    return [LogEvent(*row[:-1], str(row[-1])) for row in values]


def previous_envelope(*, deal_id: int, before: int) -> dict[str, Any] | None:
    """The deal's last event before position ``before`` (what it said then), if the log still has it."""
    return (
        OutboxEvent.objects.filter(deal_id=deal_id, position__lt=before)
        .order_by("-position").values_list("envelope", flat=True).first()
    )
