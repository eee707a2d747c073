"""Sending the notifications the notifier decided on, politely and at most once each.

Rows are claimed with ``skip_locked`` and leased (their ``due_at`` moves past the lease) before
anything is sent, so two workers never send the same row and a killed worker's rows come back after
the lease. Per shopper: nothing during their quiet hours (the rows wait for its end), and at most
``max_per_hour`` pushes an hour; when more are waiting than there is room for, the rest arrive as
one grouped push. A push service answering 404/410 loses that subscription; other failures retry
with exponential backoff and become dead letters after ``NOTIFY_MAX_ATTEMPTS``, retryable in admin.
A subscription that already accepted a row is skipped on the retry (``sent_to``).

A batch reads what it needs for all its shoppers at once, sends over HTTP from a few threads (the
push service's answer is most of a push's time) and writes every row's outcome in one round trip:
profiled at 99 pushes/s when each row cost its own reads and a ``bulk_update`` (docs/events.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from notifications.models import Notification, NotificationPreferences, PushSubscription
from notifications.webpush import PushOutcome, send_push

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
# Well inside the lease, so the rows are recorded before another worker may claim them again.
OUTCOME_WRITE_PATIENCE = timedelta(seconds=30)
CLAIM_LIMIT = 200
HOUR = timedelta(hours=1)
SEND_THREADS = 8
DEFAULT_PREFERENCES = NotificationPreferences()


def _quiet_end(prefs: NotificationPreferences, now: datetime) -> datetime | None:
    """When the shopper's quiet hours end, if ``now`` is inside them (the city's time; may span midnight)."""
    start, end = prefs.quiet_from, prefs.quiet_until
    if start is None or end is None or start == end:
        return None
    local = timezone.localtime(now)
    clock = local.time()
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return ends if ends > local else ends + timedelta(days=1)


def _grouped_payload(rows: list[Notification]) -> dict:
    titles = [row.payload["title"] for row in rows]
    return {
        "title": f"{len(rows)} more deals near you",
        "body": "; ".join(titles[:3]) + ("…" if len(titles) > 3 else ""),
        "url": "/",
    }


@dataclass
class Push:
    """One message (one row, or several grouped) for the browsers of one shopper that lack it."""

    rows: list[Notification]
    payload: dict
    subscriptions: list[PushSubscription]
    grouped: bool
    outcomes: dict[int, PushOutcome] = field(default_factory=dict)

    @property
    def accepted_before(self) -> set[int]:
        """Browsers that accepted every row of this push on an earlier attempt."""
        return set.intersection(*(set(row.sent_to) for row in self.rows))

    def send(self) -> Push:
        accepted = self.accepted_before
        message = {**self.payload, "tag": str(self.rows[0].key), "id": str(self.rows[0].key)}
        for sub in self.subscriptions:
            if sub.pk not in accepted:
                self.outcomes[sub.pk] = send_push(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, payload=message)
        return self

    def settle(self, now: datetime) -> None:
        """Record on the rows what the push services said."""
        accepted = self.accepted_before | {pk for pk, outcome in self.outcomes.items() if outcome.ok}
        errors = [outcome.error for outcome in self.outcomes.values() if not outcome.ok and not outcome.gone]
        for row in self.rows:
            row.sent_to = sorted(accepted)
            if errors:
                row.attempts += 1
                row.last_error = errors[0]
                if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                    row.state = Notification.State.DEAD
                else:
                    row.due_at = now + timedelta(seconds=settings.NOTIFY_BACKOFF_SECONDS * 2 ** (row.attempts - 1))
            elif not accepted:
                row.state = Notification.State.GONE
            else:
                row.state = Notification.State.GROUPED if self.grouped else Notification.State.SENT
                row.sent_at = now


class Batch:
    """What a claimed batch needs to know about its shoppers, read in three queries."""

    def __init__(self, user_ids: list[int], now: datetime) -> None:
        self.preferences = {p.user_id: p for p in NotificationPreferences.objects.filter(user_id__in=user_ids)}
        self.subscriptions: dict[int, list[PushSubscription]] = defaultdict(list)
        for sub in PushSubscription.objects.filter(user_id__in=user_ids).order_by("pk"):
            self.subscriptions[sub.user_id].append(sub)
        # Each sent row was a push; a grouped push marks all its rows with one ``sent_at`` (a batch
        # sends a shopper at most one), so it counts once.
        self.pushed: dict[int, list[datetime]] = defaultdict(list)
        grouped: set[tuple[int, datetime]] = set()
        recent = Notification.objects.filter(
            user_id__in=user_ids, sent_at__gte=now - HOUR, state__in=[Notification.State.SENT, Notification.State.GROUPED]
        ).values_list("user_id", "sent_at", "state")
        for user_id, sent_at, state in recent:
            if state == Notification.State.SENT:
                self.pushed[user_id].append(sent_at)
            else:
                grouped.add((user_id, sent_at))
        for user_id, sent_at in grouped:
            self.pushed[user_id].append(sent_at)

    def plan(self, user_id: int, rows: list[Notification], now: datetime) -> tuple[list[Push], datetime | None]:
        """The pushes to send this shopper now, or the time their rows must wait until."""
        prefs = self.preferences.get(user_id, DEFAULT_PREFERENCES)
        quiet_end = _quiet_end(prefs, now)
        if quiet_end is not None:
            return [], quiet_end
        pushed = self.pushed[user_id]
        room = prefs.max_per_hour - len(pushed)
        if room <= 0:
            return [], min(pushed) + HOUR
        subscriptions = self.subscriptions[user_id]
        singles, rest = (rows, []) if len(rows) <= room else (rows[: room - 1], rows[room - 1:])
        pushes = [Push([row], row.payload, subscriptions, grouped=False) for row in singles]
        if rest:
            pushes.append(Push(rest, _grouped_payload(rest), subscriptions, grouped=True))
        return pushes, None


_UPDATE_ROW = (
    "UPDATE notifications_notification SET state = %s, sent_to = %s, sent_at = %s, attempts = %s,"
    " due_at = %s, last_error = %s WHERE id = %s"
)


def _record_outcomes(rows: list[Notification]) -> None:
    """Record what was sent, waiting out a database that is away for a moment.

    The pushes are already out: rows whose outcome is not written stay leased and are sent again when
    the lease ends, so a PostgreSQL restart in between gave shoppers the same deal twice (``make
    faults``: the postgres_restart phase's batch, 6 pushes received twice a minute later).
    """
    deadline = time.monotonic() + OUTCOME_WRITE_PATIENCE.total_seconds()
    while True:
        try:
            _write_outcomes(rows)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() >= deadline:
                raise
            logger.warning("could not record %s sent notifications; trying again", len(rows), exc_info=True)
            connection.close()
            time.sleep(0.5)


def _write_outcomes(rows: list[Notification]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(_UPDATE_ROW, [
            (r.state, json.dumps(r.sent_to), r.sent_at, r.attempts, r.due_at, r.last_error, r.pk) for r in rows
        ])


def deliver_due(*, limit: int = CLAIM_LIMIT) -> int:
    """Send the notifications that are due; returns how many rows it handled."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=Notification.State.PENDING, due_at__lte=now).order_by("due_at", "id")[:limit]
        )
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(due_at=now + LEASE)
    if not rows:
        return 0
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    batch = Batch(list(by_user), now)
    pushes: list[Push] = []
    waits: dict[datetime, list[int]] = defaultdict(list)
    for user_id, theirs in by_user.items():
        planned, wait_until = batch.plan(user_id, theirs, now)
        pushes += planned
        if wait_until is not None:
            waits[wait_until] += [row.pk for row in theirs]
    for until, ids in waits.items():
        Notification.objects.filter(pk__in=ids).update(due_at=until)
    with ThreadPoolExecutor(max_workers=SEND_THREADS) as pool:
        sent = list(pool.map(Push.send, pushes))
    done = timezone.now()
    gone = {pk for push in sent for pk, outcome in push.outcomes.items() if outcome.gone}
    PushSubscription.objects.filter(pk__in=gone).delete()
    for push in sent:
        push.settle(done)
    _record_outcomes([row for push in sent for row in push.rows])
    return len(rows)


def retry_dead(*, rows) -> int:
    """Put dead letters back in line (admin action): one more round of attempts each."""
    return rows.filter(state=Notification.State.DEAD).update(
        state=Notification.State.PENDING, attempts=0, due_at=timezone.now(), last_error=""
    )

