"""Readers of the event log besides the sockets, each with its own stored position.

A reader claims its row for the length of a transaction (``select_for_update(skip_locked=True)``),
reads the events after its position, records what it decided in the same transaction and advances
the position there too: a reader killed mid-batch leaves its position where its last committed batch
ended, and the next run reads that batch again. When the log's epoch changed (a restore, an emptied
database), positions went back: the reader starts again from the oldest retained event and relies on
its own idempotency keys (event ids) to send nothing twice.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from eventlog.models import LogConsumer
from eventlog.selectors import LogEvent, log_bounds, log_events


def claim_reader(name: str) -> LogConsumer | None:
    """The reader's row, locked until the caller's transaction ends; None while another run holds it."""
    assert transaction.get_connection().in_atomic_block, "claim a reader inside transaction.atomic()"
    LogConsumer.objects.get_or_create(name=name)
    reader = LogConsumer.objects.select_for_update(skip_locked=True).filter(name=name).first()
    if reader is None:
        return None
    bounds = log_bounds()
    if reader.epoch != bounds.epoch:
        reader.position, reader.epoch = bounds.floor, bounds.epoch
        reader.save(update_fields=["position", "epoch"])
    return reader


def unread_events(reader: LogConsumer, *, limit: int) -> list[LogEvent]:
    return log_events(after=reader.position, through=log_bounds().head, limit=limit)


def advance_reader(reader: LogConsumer, *, through: int, deduplicated: int = 0) -> None:
    LogConsumer.objects.filter(name=reader.name).update(
        position=through, deduplicated=F("deduplicated") + deduplicated, updated_at=timezone.now()
    )
    reader.position = through


def reader_caught_up(name: str) -> bool:
    """Whether the reader has handled every event of the current log (two one-table reads, no
    transaction: an idle reader's poll holds no lock while it waits on another)."""
    bounds = log_bounds()
    row = LogConsumer.objects.filter(name=name).values_list("position", "epoch").first()
    if row is None:
        return bounds.head == 0
    return row == (bounds.head, bounds.epoch)


def reader_lag(name: str) -> int:
    """Events committed to the log that the reader has not handled yet."""
    head = log_bounds().head
    position = LogConsumer.objects.filter(name=name).values_list("position", flat=True).first()
    return max(0, head - (position or 0))
