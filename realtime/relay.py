"""The outbox relay: give committed events their positions, then push them to Redis pub/sub.

Sequencing runs under one PostgreSQL advisory lock held to commit, so positions become visible in
the order they were handed out: a reader that sees position N has every committed position below N.
Pushing happens after that commit and is best-effort; what pub/sub loses, the web processes repair
from the log (see ``realtime.repair``), and a ``sequenced`` row left by a killed worker or a failed
push is pushed by the next relay's turn (the sweep's at the latest), before any newer row.

One relay at a time takes its turn (a session advisory lock around sequence-and-push), so pub/sub
carries events in position order: two workers that sequenced batches one after the other could
otherwise push them the other way round, and a shopper would see a deal withdrawn before it changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from eventlog.models import LogConsumer, LogHead, OutboxEvent
from eventlog.vocabulary import EVENT_TYPES, EVENT_VERSION
from realtime.groups import cell_group, staff_group
from realtime.log_epoch import ensure_not_rewound, remember_pushed
from realtime.publisher import Sending, publisher
from realtime.queued_wake_up import queued_wake_up

logger = logging.getLogger(__name__)

SEQUENCE_LOCK_KEY = 0x0DEA1CA5
PUSH_TURN_LOCK_KEY = 0x0DEA1CA6
BACKOFF_BASE_SECONDS = 1.0
STAFF_CHANGED = {"type": "staff.changed"}
# For the rest of the transaction: both of a turn's looks walk their partial indexes (see their comments).
BITMAP_SCANS_OFF = "set_config('enable_bitmapscan', 'off', true)"
ENVELOPE_KEYS = frozenset({"id", "type", "version", "source", "occurred_at", "correlation_id", "causation_id", "data"})


class PoisonEvent(ValueError):
    """A row that can never be delivered as it stands."""


@dataclass(slots=True)
class RelayRow:
    """The columns of an outbox row the relay needs, read without building a model (the profile of a
    10,000-event relay spent 36% of its time loading full ``OutboxEvent`` instances and decoding their
    JSON with the standard library)."""

    pk: int
    event_id: str
    type: str
    deal_id: int
    market_id: int
    cells: list[str]
    footprints: list[list[Any]]
    envelope: dict[str, Any]
    attempts: int
    position: int | None = None
    state: str = OutboxEvent.State.PENDING


# The columns of ``RelayRow``, JSON as text for orjson.
_ROW_COLUMNS = (
    "o.id, o.event_id::text, o.type, o.deal_id, o.market_id, o.cells, o.footprints::text, o.envelope::text,"
    " o.attempts, o.position, o.state"
)


def _json(text: str) -> Any:
    """The column's JSON, or None when orjson cannot read it (the row is then refused as poison)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _relay_rows(sql: str, params: list[Any]) -> list[RelayRow]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            RelayRow(pk, event_id, type_, deal_id, market_id, cells, _json(footprints), _json(envelope),
                     attempts, position, state)
            for pk, event_id, type_, deal_id, market_id, cells, footprints, envelope, attempts, position, state
            in cursor.fetchall()
        ]


@dataclass(frozen=True)
class RelayResult:
    sequenced: int = 0
    published: int = 0
    failed: int = 0


def check_deliverable(row: RelayRow) -> None:
    """Raise ``PoisonEvent`` unless the row holds a well-formed envelope and routing."""
    envelope = row.envelope
    if not isinstance(envelope, dict) or set(envelope) != ENVELOPE_KEYS:
        raise PoisonEvent("envelope keys do not match the contract")
    if envelope["type"] not in EVENT_TYPES or envelope["version"] != EVENT_VERSION:
        raise PoisonEvent(f"unknown event type or version: {envelope['type']!r} v{envelope['version']!r}")
    if envelope["id"] != str(row.event_id):
        raise PoisonEvent("envelope id differs from the row's event id")
    data = envelope["data"]
    if not isinstance(data, dict) or data.get("id") != row.deal_id or not isinstance(data.get("market"), dict):
        raise PoisonEvent("envelope data is not this deal")
    if not row.cells or not row.footprints:
        raise PoisonEvent("the row has no routing")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))


def sequence_batch(*, batch_size: int | None = None) -> list[RelayRow]:
    """Claim due pending rows in id order and give the deliverable ones the next positions.

    A deal whose earlier event is backing off keeps its later events pending, so one deal's events
    never overtake each other. Returns the sequenced rows, committed.
    """
    return _sequence(batch_size or settings.OUTBOX_BATCH_SIZE)[0]


def _sequence(batch_size: int) -> tuple[list[RelayRow], bool]:
    """``sequence_batch``, and whether it claimed a whole batch (more may be due)."""
    now = timezone.now()
    with transaction.atomic():
        # Bitmap scans are off for this transaction: with statistics taken before a burst of inserts,
        # PostgreSQL guesses a few hundred pending rows and collects them all by bitmap and sorts them,
        # every batch (5 ms a batch with 4,000 left of a 20,000 burst, more before). Without, the walk
        # of the pending rows' id index stops at the batch size.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_xact_lock(%s), {BITMAP_SCANS_OFF}",
                           [SEQUENCE_LOCK_KEY])
        # The batch's ids are chosen first, in id order, stopping at the batch size; only then are their
        # wide columns read. (Selecting the columns in the same query sorted every pending row's
        # envelope, on disk, for each batch: 47 ms a batch with 10,000 pending, 2 ms now.)
        # A deal whose row is backing off (scheduled later) waits for it. Only a deal's earliest
        # pending row can be backing off (a row is tried only after every earlier one left "pending"),
        # so "the deal has a pending row scheduled later" is the whole rule: one small set, hashed
        # once per batch. As a correlated "an earlier row of this deal" it was probed per row, and
        # with statistics taken before a burst of inserts PostgreSQL probed the whole pending index
        # each time: 1.9 s a batch with 20,000 pending (the reference benchmark's relay: 358/s). A row
        # backing off is in that set itself, so the rule also keeps rows that are not due yet.
        rows = _relay_rows(
            f"SELECT {_ROW_COLUMNS} FROM realtime_outboxevent o WHERE o.id IN ("
            "   SELECT p.id FROM realtime_outboxevent p"
            "   WHERE p.state = %s AND p.deal_id NOT IN ("
            "     SELECT b.deal_id FROM realtime_outboxevent b WHERE b.state = %s AND b.scheduled_for > %s)"
            "   ORDER BY p.id LIMIT %s FOR UPDATE SKIP LOCKED)"
            " ORDER BY o.id",
            [OutboxEvent.State.PENDING, OutboxEvent.State.PENDING, now, batch_size],
        )
        if not rows:
            # A look that finds nothing (the sweep's turns, mostly) takes neither the head's lock nor
            # the rewind check (a Redis read): they wait until there is something to number.
            return [], False
        sequenced, failed_deals = [], set()
        for row in rows:
            if row.deal_id in failed_deals:
                continue
            try:
                check_deliverable(row)
            except PoisonEvent as exc:
                failed_deals.add(row.deal_id)
                _record_failure(row, str(exc), now)
                continue
            sequenced.append(row)
        if sequenced:
            _assign_positions(sequenced, _locked_head(), now)
    return sequenced, len(rows) == batch_size


def _locked_head() -> int:
    """The log's head, its row locked until the transaction ends, with the epoch made right for it
    (``ensure_not_rewound``): a restore cannot land between that check and the positions handed out."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT position, epoch FROM realtime_loghead WHERE id = 1 FOR UPDATE")
        locked = cursor.fetchone()
        if locked is None:  # a new log
            LogHead.objects.get_or_create(pk=1)
            cursor.execute("SELECT position, epoch FROM realtime_loghead WHERE id = 1 FOR UPDATE")
            locked = cursor.fetchone()
    head, epoch = locked
    ensure_not_rewound(head, epoch)
    return head


def _assign_positions(rows: list[RelayRow], head: int, now) -> None:
    """Give ``rows`` the positions after ``head`` in id order, in one statement, and move the head.

    Precondition: the caller holds the sequencing lock and the head's row lock (``_locked_head``)
    inside its transaction.
    """
    ids = [row.pk for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE realtime_outboxevent AS o
               SET position = %s + n.rank, state = %s, sequenced_at = %s
              FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM unnest(%s::bigint[]) AS id) AS n
             WHERE o.id = n.id
            """,
            [head, OutboxEvent.State.SEQUENCED, now, ids],
        )
        cursor.execute("UPDATE realtime_loghead SET position = %s WHERE id = 1", [head + len(ids)])
    for rank, row in enumerate(sorted(rows, key=lambda r: r.pk), start=1):
        row.position, row.state = head + rank, OutboxEvent.State.SEQUENCED


def _record_failure(row: RelayRow, error: str, now) -> None:
    row.attempts += 1
    changes = {"attempts": row.attempts, "last_error": error[:2000]}
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        row.state = changes["state"] = OutboxEvent.State.DEAD
        logger.error("outbox row %s is dead after %s attempts: %s", row.pk, row.attempts, error)
    else:
        changes["scheduled_for"] = now + _backoff(row.attempts)
        logger.warning("outbox row %s failed (attempt %s), retrying: %s", row.pk, row.attempts, error)
    OutboxEvent.objects.filter(pk=row.pk).update(**changes)


def layer_message(row: RelayRow) -> dict:
    """What travels through pub/sub: the envelope encoded once, for every recipient."""
    return {
        "type": "deal.event",
        "id": row.event_id,
        "position": row.position,
        "cells": row.cells,
        "footprints": row.footprints,
        "deal": [row.deal_id, row.market_id, row.type],
        "envelope": orjson.dumps(row.envelope),
    }


@dataclass
class Push:
    """A batch of sequenced rows on its way to their cells' groups."""

    rows: list[RelayRow]
    sending: Sending
    # When Redis had them: the relay may wait for a push only after sequencing its next batch, so
    # the time it marks them published is later than that.
    sent_at: datetime | None = None

    @classmethod
    def start(cls, rows: list[RelayRow]) -> Push:
        messages = []
        for row in rows:
            message = layer_message(row)
            messages += [(cell_group(cell), message) for cell in row.cells]
        # A market's dashboards only learn that something changed (and coalesce that): one message
        # a batch says it, where one an event was a third of the batch's publishes.
        messages += [(staff_group(market), STAFF_CHANGED) for market in sorted({row.market_id for row in rows})]
        return cls(rows, publisher.begin(messages))

    @property
    def last_position(self) -> int:
        return self.rows[-1].position

    def arrived(self) -> bool:
        """Wait for the push; False (logged) if Redis failed it: the rows stay sequenced in the log."""
        try:
            self.sent_at = self.sending.wait()
        except Exception:  # noqa: BLE001 - the next turn and the web processes recover the rows
            logger.warning("pushing %s events to pub/sub failed; they stay in the log", len(self.rows), exc_info=True)
            return False
        return True

    def mark_published(self) -> int:
        """Record that the push arrived: the rows are published, and their last position pushed."""
        for row in self.rows:
            logger.debug(
                "pushed %s for deal %s at position %s", row.type, row.deal_id, row.position,
                extra={"correlation_id": row.envelope.get("correlation_id"), "event_id": row.event_id},
            )
        logger.info("pushed %s events, positions %s to %s", len(self.rows), self.rows[0].position, self.last_position)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE realtime_outboxevent SET state = %s, published_at = %s WHERE id = ANY(%s) AND state = %s",
                [OutboxEvent.State.PUBLISHED, self.sent_at, [row.pk for row in self.rows], OutboxEvent.State.SEQUENCED],
            )
        remember_pushed(self.last_position)
        return len(self.rows)


@contextmanager
def relay_turn() -> Iterator[None]:
    """Hold the relay's turn: no other relay sequences or pushes until it is released.

    A session-level lock, so it spans the sequencing transactions and the pushes after them; it is
    released however the block ends, and by PostgreSQL itself if the worker dies.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [PUSH_TURN_LOCK_KEY])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [PUSH_TURN_LOCK_KEY])
        except Exception:  # noqa: BLE001 - a broken connection took the lock with it
            logger.warning("could not release the relay turn; the connection is gone", exc_info=True)


def relay_pending(*, max_batches: int = 50) -> RelayResult:
    """Drain what is due: sequence a batch, push everything not yet pushed, repeat until done.

    Rows a failed push left sequenced (Redis away) are pushed again before and with the newer ones, in
    position order: a deal's events must not overtake each other on pub/sub (after a network cut the
    fault suite saw an "updated" arrive after a newer one and stick on shoppers' screens).

    The next batch is sequenced while the last one travels to Redis; pushes themselves go one at a
    time, each started after the one before arrived, and none outlives the turn.

    "Done" is a batch shorter than the batch size: it took every row due when it looked. A row
    committed after that look has a wake-up of its own sent after its commit (``RelayWaker``), whose
    turn comes after this one; so the turn does not look once more to find nothing, which at 75
    changes/s (a turn a commit) was a sequencing transaction in every turn. Commits before the turn
    looked may have sent none (a wake-up was waiting, ``QueuedWakeUp``): the mark is cleared before
    the look, so the look sees them.

    Precondition: the caller holds ``relay_turn()``.
    """
    queued_wake_up.taken()
    sequenced = published = 0
    # Only an earlier turn can have left rows sequenced but not pushed: within this one every push
    # either arrives or ends the turn. So look for them until there are none, then push each fresh
    # batch as it is sequenced.
    leftovers = more_due = True
    pushing: Push | None = None
    try:
        for _ in range(max_batches):
            batch = _not_yet_pushed(after=pushing.last_position if pushing else 0) if leftovers else []
            leftovers = len(batch) == settings.OUTBOX_BATCH_SIZE
            if not batch and more_due:
                # Each batch checks that the log did not go back (``sequence_batch``), not once a turn:
                # a database restored in the middle of a turn would otherwise get positions it had
                # already handed out, under the same epoch (seen in CI).
                batch, more_due = _sequence(settings.OUTBOX_BATCH_SIZE)
                sequenced += len(batch)
            previous, pushing = pushing, None
            if previous is not None and not previous.arrived():
                break
            if batch:
                pushing = Push.start(batch)
            if previous is not None:
                published += previous.mark_published()
            if not batch:
                break
        if pushing is not None:
            last, pushing = pushing, None
            if last.arrived():
                published += last.mark_published()
    finally:
        if pushing is not None:
            pushing.arrived()
    return RelayResult(sequenced=sequenced, published=published)


def _not_yet_pushed(*, after: int) -> list[RelayRow]:
    """Sequenced rows not yet pushed past position ``after``, oldest position first (one batch)."""
    with transaction.atomic():
        # Bitmap scans are off here too. A row leaves "sequenced" moments after entering it, and its
        # entry stays in the partial index of sequenced rows until VACUUM; a bitmap scan visits every
        # such entry's heap row on every look, where an index scan marks the dead ones as it passes
        # and the next look skips them. With 28,565 dead entries and no live one, the bitmap look took
        # 11.6 of a turn's 20 ms, and the index scan after the first 0.08 ms (EXPLAIN ANALYZE).
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {BITMAP_SCANS_OFF}")
        return _relay_rows(
            f"SELECT {_ROW_COLUMNS} FROM realtime_outboxevent o WHERE o.state = %s AND o.position > %s"
            " ORDER BY o.position LIMIT %s",
            [OutboxEvent.State.SEQUENCED, after, settings.OUTBOX_BATCH_SIZE],
        )


def outbox_retry_dead(*, rows) -> tuple[int, int]:
    """Put dead rows back in line; a row a later event of its deal already overtook stays dead.

    Returns (retried, superseded).
    """
    retried = superseded = 0
    with transaction.atomic():
        for row in rows.select_for_update().filter(state=OutboxEvent.State.DEAD).order_by("id"):
            newer = OutboxEvent.objects.filter(deal_id=row.deal_id, id__gt=row.id, position__isnull=False).exists()
            if newer:
                row.last_error = "superseded: a later event of this deal was already delivered"
                row.save(update_fields=["last_error"])
                superseded += 1
                continue
            row.state, row.attempts, row.scheduled_for = OutboxEvent.State.PENDING, 0, timezone.now()
            row.save(update_fields=["state", "attempts", "scheduled_for"])
            retried += 1
    return retried, superseded


def prune_published(*, now=None) -> int:
    """Delete published events older than the retention period; sequenced/pending rows stay."""
    cutoff = (now or timezone.now()) - settings.OUTBOX_RETENTION
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCE_LOCK_KEY])
        expired = OutboxEvent.objects.filter(state=OutboxEvent.State.PUBLISHED, created_at__lt=cutoff)
        through = expired.aggregate(through=Max("position"))["through"]
        slowest = LogConsumer.objects.aggregate(slowest=Min("position"))["slowest"]
        if through is not None and slowest is not None:
            # A consumer that is behind (a notifier down for a while) still finds its events.
            through = min(through, slowest)
        if not through:
            return 0
        # Deleting strictly a prefix keeps "pruned_through" an exact floor for replay.
        deleted, _ = OutboxEvent.objects.filter(position__lte=through).delete()
        LogHead.objects.filter(pk=1).update(pruned_through=through)
    return deleted
