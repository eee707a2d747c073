"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from realtime.context import current_causation_id, current_correlation_id
from realtime.models import OutboxEvent

logger = logging.getLogger(__name__)

EVENT_VERSION = "1"
EVENT_TYPES = ("discount.published", "discount.updated", "discount.withdrawn", "discount.expired")


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


def outbox_record(
    *,
    event_type: str,
    deal_id: int,
    market_id: int,
    data: dict[str, Any],
    cells: list[str],
    footprints: list[list[Any]],
) -> OutboxEvent:
    """Record one event in the outbox.

    Precondition: the caller is inside the ``transaction.atomic()`` of the change the event
    describes, so the two commit together or not at all. After commit the relay is woken.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_record() must run inside the transaction of the change it records")
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
    transaction.on_commit(relay_waker.wake)
    return row


class RelayWaker:
    """Wakes the relay after commits, with at most one wake-up being sent per process at a time.

    A commit only sets a flag; a daemon thread turns the flag into one Celery message, so a burst of
    commits costs a few broker round trips instead of one each, and no commit waits on the broker.
    A commit that lands while a message is being sent sets the flag again: no wake-up is lost.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    # A forked worker child inherits the flag but not the thread.
                    self._flag = threading.Event()
                    threading.Thread(target=self._run, name="relay-waker", daemon=True).start()
                    self._pid = os.getpid()
        self._flag.set()

    def _run(self) -> None:
        from realtime.tasks import relay_outbox

        flag = self._flag
        while True:
            flag.wait()
            flag.clear()
            try:
                relay_outbox.delay()
            except Exception as exc:  # noqa: BLE001 - the beat sweep relays the row within a second anyway
                # One line, no traceback: during a Redis outage this repeats for every commit.
                logger.warning("could not wake the relay (%s); the sweep will pick the row up", exc)


relay_waker = RelayWaker()
