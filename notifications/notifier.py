"""The notifier: a second consumer of the deal events, beside the live sockets and independent of them.

It reads the event log by position with its own stored offset (``eventlog.readers``), decides who
is told what (``notifications.matching``) and writes those decisions as ``Notification`` rows in the
same transaction that advances its offset. Sending happens afterwards (``notifications.delivery``),
from the rows: a worker killed mid-batch re-reads the batch, and the unique constraints turn the
second reading's decisions into no-ops. An event that cannot be read is set aside as a dead event.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from eventlog.readers import advance_reader, claim_reader, reader_caught_up, unread_events
from notifications.matching import UnplannableEvent, plan
from notifications.models import Notification, NotifierDeadEvent

logger = logging.getLogger(__name__)

READER = "notifier"


def _new_only(planned: list[Notification]) -> list[Notification]:
    """Drop decisions already made: the same event for the shopper, or the same deal for the same reason."""
    if not planned:
        return []
    users = [n.user_id for n in planned]
    made = set(
        Notification.objects.filter(event_id=planned[0].event_id, user_id__in=users).values_list("user_id", flat=True)
    )
    told = set(
        Notification.objects.filter(deal_id=planned[0].deal_id, user_id__in=users)
        .values_list("user_id", "reason")
    )
    return [n for n in planned if n.user_id not in made and (n.user_id, n.reason) not in told]


def notify_batch(*, limit: int | None = None) -> int:
    """Handle the next batch of events after the notifier's offset; returns how many it read."""
    limit = limit or settings.NOTIFY_BATCH_SIZE
    if reader_caught_up(READER):
        return 0
    with transaction.atomic():
        reader = claim_reader(READER)
        if reader is None:
            return 0
        events = unread_events(reader, limit=limit)
        if not events:
            return 0
        deduplicated = 0
        for event in events:
            try:
                with transaction.atomic():
                    planned = plan(event)
                    fresh = _new_only(planned)
                    deduplicated += len(planned) - len(fresh)
                    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
            except UnplannableEvent as exc:
                logger.error("notifier set aside the event at %s: %s", event.position, exc)
                NotifierDeadEvent.objects.get_or_create(
                    position=event.position, defaults={"event_id": event.event_id, "error": str(exc)}
                )
        advance_reader(reader, through=events[-1].position, deduplicated=deduplicated)
    return len(events)


def notify_until_caught_up(*, max_batches: int = 50) -> int:
    read = 0
    for _ in range(max_batches):
        batch = notify_batch()
        read += batch
        if batch == 0:
            break
    return read
