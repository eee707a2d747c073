"""Recording events in the log, inside the transaction of the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from eventlog.context import current_causation_id, current_correlation_id
from eventlog.models import OutboxEvent
from eventlog.signals import events_committed
from eventlog.vocabulary import EVENT_TYPES, EVENT_VERSION


def build_envelope(*, event_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": event_type,
        "version": EVENT_VERSION,
        "source": settings.DEALCAST_SOURCE,
        "occurred_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "correlation_id": current_correlation_id(),
        "causation_id": current_causation_id(),
        "data": data,
    }


def _announce_commit() -> None:
    events_committed.send(sender=OutboxEvent)


def record_event(
    *,
    event_type: str,
    deal_id: int,
    market_id: int,
    data: dict[str, Any],
    cells: list[str],
    footprints: list[list[Any]],
) -> OutboxEvent:
    """Record one event in the log, pending until the relay sequences it.

    Precondition: the caller is inside the ``transaction.atomic()`` of the change the event
    describes, so the two commit together or not at all. After commit ``events_committed`` is sent
    (``realtime`` wakes its relay on it).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event() must run inside the transaction of the change it records")
    event_id = uuid.uuid4()
    row = OutboxEvent.objects.create(
        event_id=event_id,
        type=event_type,
        deal_id=deal_id,
        market_id=market_id,
        cells=sorted(set(cells)),
        footprints=footprints,
        envelope=build_envelope(event_id=event_id, event_type=event_type, data=data),
    )
    transaction.on_commit(_announce_commit)
    return row
