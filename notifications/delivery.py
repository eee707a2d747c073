"""Sending the notifications the notifier decided on, politely and at most once each.

Rows are claimed with ``skip_locked`` and leased (their ``due_at`` moves past the lease) before
anything is sent, so two workers never send the same row and a killed worker's rows come back after
the lease. Per shopper: nothing during their quiet hours (the rows wait for its end), and at most
``max_per_hour`` pushes an hour; when more are waiting than there is room for, the rest arrive as
one grouped push. A push service answering 404/410 loses that subscription; other failures retry
with exponential backoff and become dead letters after ``NOTIFY_MAX_ATTEMPTS``, retryable in admin.
A subscription that already accepted a row is skipped on the retry (``sent_to``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from notifications.models import Notification, NotificationPreferences, PushSubscription
from notifications.webpush import send_push

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CLAIM_LIMIT = 200
HOUR = timedelta(hours=1)
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


def _pushes_last_hour(user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """Pushes sent to the shopper in the last hour (a grouped push once) and the first one's time."""
    sent = Notification.objects.filter(
        user_id=user_id, sent_at__gte=now - HOUR, state__in=[Notification.State.SENT, Notification.State.GROUPED]
    )
    times = set(sent.values_list("sent_at", flat=True))
    return len(times), (min(times) if times else None)


def _grouped_payload(rows: list[Notification]) -> dict:
    titles = [row.payload["title"] for row in rows]
    return {
        "title": f"{len(rows)} more deals near you",
        "body": "; ".join(titles[:3]) + ("…" if len(titles) > 3 else ""),
        "url": "/",
    }


def _retry_or_bury(rows: list[Notification], error: str, now: datetime) -> None:
    for row in rows:
        row.attempts += 1
        row.last_error = error
        if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            row.state = Notification.State.DEAD
        else:
            row.due_at = now + timedelta(seconds=settings.NOTIFY_BACKOFF_SECONDS * 2 ** (row.attempts - 1))


def _send(rows: list[Notification], payload: dict, subscriptions: list[PushSubscription], *, grouped: bool) -> None:
    now = timezone.now()
    accepted = set.intersection(*(set(row.sent_to) for row in rows))
    live = [sub for sub in subscriptions if sub.pk not in accepted]
    message = {**payload, "tag": str(rows[0].key), "id": str(rows[0].key)}
    errors = []
    for sub in live:
        outcome = send_push(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, payload=message)
        if outcome.ok:
            accepted.add(sub.pk)
        elif outcome.gone:
            sub.delete()
            subscriptions.remove(sub)
        else:
            errors.append(outcome.error)
    for row in rows:
        row.sent_to = sorted(accepted)
    if errors:
        _retry_or_bury(rows, errors[0], now)
    elif not accepted:
        for row in rows:
            row.state = Notification.State.GONE
    else:
        for row in rows:
            row.state = Notification.State.GROUPED if grouped else Notification.State.SENT
            row.sent_at = now
    Notification.objects.bulk_update(rows, ["sent_to", "state", "sent_at", "attempts", "due_at", "last_error"])


def _postpone(rows: list[Notification], until: datetime) -> None:
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(due_at=until)


def _deliver_to(user_id: int, rows: list[Notification], now: datetime) -> None:
    prefs = NotificationPreferences.objects.filter(user_id=user_id).first() or DEFAULT_PREFERENCES
    quiet_end = _quiet_end(prefs, now)
    if quiet_end is not None:
        _postpone(rows, quiet_end)
        return
    pushes, first = _pushes_last_hour(user_id, now)
    room = prefs.max_per_hour - pushes
    if room <= 0:
        _postpone(rows, first + HOUR)
        return
    subscriptions = list(PushSubscription.objects.filter(user_id=user_id))
    singles, rest = (rows, []) if len(rows) <= room else (rows[: room - 1], rows[room - 1:])
    for row in singles:
        _send([row], row.payload, subscriptions, grouped=False)
    if rest:
        _send(rest, _grouped_payload(rest), subscriptions, grouped=True)


def deliver_due(*, limit: int = CLAIM_LIMIT) -> int:
    """Send the notifications that are due; returns how many rows it handled."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=Notification.State.PENDING, due_at__lte=now).order_by("due_at", "id")[:limit]
        )
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(due_at=now + LEASE)
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    for user_id, theirs in by_user.items():
        try:
            _deliver_to(user_id, theirs, now)
        except Exception:
            # One shopper's failure (a bad subscription row) must not hold up everyone else's.
            logger.exception("delivering notifications to user %s failed; their rows retry after the lease", user_id)
    return len(rows)


def retry_dead(*, rows) -> int:
    """Put dead letters back in line (admin action): one more round of attempts each."""
    return rows.filter(state=Notification.State.DEAD).update(
        state=Notification.State.PENDING, attempts=0, due_at=timezone.now(), last_error=""
    )


def oldest_pending_age(now: datetime | None = None) -> float:
    oldest = Notification.objects.filter(state=Notification.State.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
    return ((now or timezone.now()) - oldest).total_seconds() if oldest else 0.0


