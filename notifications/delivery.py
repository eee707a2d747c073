"""Sending the notifications the notifier decided on, politely and at most once each.

Rows are claimed with ``skip_locked`` and leased (their ``due_at`` moves past the lease) before
anything is sent, so two workers never send the same row and a killed worker's rows come back after
the lease. Per shopper: nothing during their quiet hours (the rows wait for its end), and at most
``max_per_hour`` pushes an hour; when more are waiting than there is room for, the rest arrive as
one grouped push. A browser whose push service answers 404/410, whose keys cannot be encrypted for or
whose host is no longer allowed is forgotten; other failures retry with exponential backoff and
become dead letters after ``NOTIFY_MAX_ATTEMPTS``, retryable in admin. A subscription that already
accepted a row is skipped on the retry (``sent_to``). Only browsers whose login is still open are
sent to (``PushSubscription.session_key``).

Each push is decided and recorded on its own: ``deliver_due`` claims, plans and hands the pushes to
the process's sender (``notifications.webpush``) without waiting for them, and ``InFlight`` records
each one's outcome as soon as its push services have answered. A slow or hostile endpoint holds only
its own shopper's push (their next rows wait until it ends); everyone else's go on. The lease is
longer than a push may wait for a connection, take, and then take to be recorded, so it never ends
while a push is out.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

from notifications.models import Notification, NotificationPreferences, PushSubscription
from notifications.per_process import PerProcess
from notifications.webpush import PreparedPush, PushOutcome, prepare_push, push_sender

logger = logging.getLogger(__name__)

# Recording outcomes waits out a database that is away for this long (a PostgreSQL restart).
OUTCOME_WRITE_PATIENCE = timedelta(seconds=20)
# A claimed push may wait this long beyond the push timeout for a free connection before it is given
# back to be retried instead.
QUEUE_PATIENCE = timedelta(seconds=10)
CLAIM_LIMIT = 200
# Requests one process has waiting or in flight, per connection it may open: more rows stay unclaimed.
QUEUED_PER_CONNECTION = 4
HOUR = timedelta(hours=1)
DEFAULT_PREFERENCES = NotificationPreferences()


def lease() -> timedelta:
    """How long a claimed row is this process's: its longest wait, its push, and its recording."""
    push = timedelta(seconds=settings.NOTIFY_PUSH_TIMEOUT_SECONDS)
    return push + QUEUE_PATIENCE + push + OUTCOME_WRITE_PATIENCE + timedelta(seconds=10)


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

    user_id: int
    rows: list[Notification]
    payload: dict
    subscriptions: list[PushSubscription]
    grouped: bool
    outcomes: dict[int, PushOutcome] = field(default_factory=dict)
    finished_at: datetime | None = None

    @property
    def accepted_before(self) -> set[int]:
        """Browsers that accepted every row of this push on an earlier attempt."""
        return set.intersection(*(set(row.sent_to) for row in self.rows))

    def prepare(self) -> dict[int, PreparedPush]:
        """The requests still to send, by subscription; a browser none can be made for gets its outcome now."""
        accepted = self.accepted_before
        message = {**self.payload, "tag": str(self.rows[0].key), "id": str(self.rows[0].key)}
        requests: dict[int, PreparedPush] = {}
        for sub in self.subscriptions:
            if sub.pk in accepted:
                continue
            prepared = prepare_push(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, payload=message)
            if isinstance(prepared, PushOutcome):
                self.outcomes[sub.pk] = prepared
            else:
                requests[sub.pk] = prepared
        return requests

    def settle(self) -> None:
        """Record on the rows what the push services said."""
        now = self.finished_at or timezone.now()
        accepted = self.accepted_before | {pk for pk, outcome in self.outcomes.items() if outcome.ok}
        failed = [outcome for outcome in self.outcomes.values() if not outcome.ok and not outcome.gone]
        gone = [outcome for outcome in self.outcomes.values() if outcome.gone]
        for row in self.rows:
            row.sent_to = sorted(accepted)
            if failed:
                row.last_error, row.failure = failed[0].error, failed[0].failure
                if all(outcome.failure == "queued" for outcome in failed):
                    row.due_at = now  # never sent: our own backlog, not the push service's fault
                    continue
                row.attempts += 1
                if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                    row.state = Notification.State.DEAD
                else:
                    row.due_at = now + timedelta(seconds=settings.NOTIFY_BACKOFF_SECONDS * 2 ** (row.attempts - 1))
                continue
            if gone:
                row.last_error, row.failure = gone[0].error, gone[0].failure
            if not accepted:
                row.state = Notification.State.GONE
            else:
                row.state = Notification.State.GROUPED if self.grouped else Notification.State.SENT
                row.sent_at = now


class Batch:
    """What a claimed batch needs to know about its shoppers, read in three queries."""

    def __init__(self, user_ids: list[int], now: datetime) -> None:
        self.preferences = {p.user_id: p for p in NotificationPreferences.objects.filter(user_id__in=user_ids)}
        self.subscriptions: dict[int, list[PushSubscription]] = defaultdict(list)
        # A browser is sent to while the login that subscribed it is open (logout, expiry and a new
        # password end it); the database session engine keeps every open login in this table.
        open_logins = Session.objects.filter(expire_date__gt=now).values("session_key")
        for sub in PushSubscription.objects.filter(user_id__in=user_ids, session_key__in=open_logins).order_by("pk"):
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
        pushes = [Push(user_id, [row], row.payload, subscriptions, grouped=False) for row in singles]
        if rest:
            pushes.append(Push(user_id, rest, _grouped_payload(rest), subscriptions, grouped=True))
        return pushes, None


_UPDATE_ROW = (
    "UPDATE notifications_notification SET state = %s, sent_to = %s, sent_at = %s, attempts = %s,"
    " due_at = %s, last_error = %s, failure = %s WHERE id = %s"
)


def _record_outcomes(rows: list[Notification]) -> None:
    """Record what was sent, waiting out a database that is away for a moment.

    The pushes are already out: rows whose outcome is not written stay leased and are sent again when
    the lease ends, so a PostgreSQL restart in between gave shoppers the same deal twice (``make
    faults``: the postgres_restart phase).
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
            (r.state, json.dumps(r.sent_to), r.sent_at, r.attempts, r.due_at, r.last_error, r.failure, r.pk) for r in rows
        ])


def _forget(pushes: list[Push]) -> None:
    """Browsers that can never be sent to again (gone, unusable keys, a host no longer allowed)."""
    gone = {pk for push in pushes for pk, outcome in push.outcomes.items() if outcome.gone}
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()


class InFlight:
    """The pushes this process has handed to its sender, and the thread that records each one's
    outcome as soon as it is known (in batches of whatever has finished meanwhile)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._users: Counter[int] = Counter()
        self._requests = 0
        self._pushes = 0
        self._finished: queue.SimpleQueue[tuple[Push, int]] = queue.SimpleQueue()
        threading.Thread(target=self._record_forever, name="push-recorder", daemon=True).start()

    def busy_users(self) -> list[int]:
        with self._lock:
            return list(self._users)

    def room(self) -> int:
        """Rows this process may claim now without queueing more requests than its connections can take."""
        with self._lock:
            return max(0, settings.NOTIFY_PUSH_CONCURRENCY * QUEUED_PER_CONNECTION - self._requests)

    def start(self, push: Push, *, not_after: float) -> None:
        requests = push.prepare()
        with self._lock:
            self._users[push.user_id] += 1
            self._requests += len(requests)
            self._pushes += 1
        if not requests:
            self._finish(push, 0)
            return
        future = push_sender().send(requests, not_after=not_after)
        future.add_done_callback(lambda done: self._sent(push, requests, done))

    def _sent(self, push: Push, requests: dict[int, PreparedPush], future: Future) -> None:
        try:
            push.outcomes.update(future.result())
        except Exception as exc:  # noqa: BLE001 - every request still gets an outcome, so its row is recorded
            logger.exception("pushes to %s browsers failed as a whole", len(requests))
            for pk in requests:
                push.outcomes.setdefault(pk, PushOutcome(ok=False, error=f"sending failed: {exc!r}"[:300], failure="error"))
        self._finish(push, len(requests))

    def _finish(self, push: Push, requests: int) -> None:
        push.finished_at = timezone.now()
        self._finished.put((push, requests))

    def _record_forever(self) -> None:
        while True:
            finished = [self._finished.get()]
            while len(finished) < CLAIM_LIMIT:
                try:
                    finished.append(self._finished.get_nowait())
                except queue.Empty:
                    break
            pushes = [push for push, _ in finished]
            try:
                for push in pushes:
                    push.settle()
                _forget(pushes)
                _record_outcomes([row for push in pushes for row in push.rows])
            except Exception:  # noqa: BLE001 - the rows stay leased and are sent again after the lease
                logger.exception("could not record the outcome of %s pushes", len(pushes))
            finally:
                close_old_connections()
                with self._lock:
                    for push, requests in finished:
                        self._users[push.user_id] -= 1
                        if not self._users[push.user_id]:
                            del self._users[push.user_id]
                        self._requests -= requests
                        self._pushes -= 1
                    self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Whether every push handed over has been sent and recorded within ``timeout`` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pushes == 0, timeout)


_in_flight: PerProcess[InFlight] = PerProcess(InFlight)


def in_flight() -> InFlight:
    """This process's pushes in flight."""
    return _in_flight.get()


def deliver_due(*, limit: int = CLAIM_LIMIT) -> int:
    """Claim the notifications that are due and start sending them; returns how many rows it claimed.

    Returns without waiting for the push services: ``InFlight`` records each outcome. Shoppers with a
    push of this process still out are left for later, so one slow browser delays only its own shopper.
    """
    pushing = in_flight()
    limit = min(limit, pushing.room())
    if limit <= 0:
        return 0
    now = timezone.now()
    claimed_at = time.monotonic()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=Notification.State.PENDING, due_at__lte=now)
            .exclude(user_id__in=pushing.busy_users()).order_by("due_at", "id")[:limit]
        )
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(due_at=now + lease())
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
    not_after = claimed_at + settings.NOTIFY_PUSH_TIMEOUT_SECONDS + QUEUE_PATIENCE.total_seconds()
    for push in pushes:
        pushing.start(push, not_after=not_after)
    return len(rows)


def wait_sent(timeout: float = 60.0) -> bool:
    """Whether this process's pushes have all been sent and recorded within ``timeout`` seconds (tests,
    and a worker that is shutting down)."""
    pushing = _in_flight.existing()
    return True if pushing is None else pushing.wait_idle(timeout)


def retry_dead(*, rows) -> int:
    """Put dead letters back in line (admin action): one more round of attempts each."""
    return rows.filter(state=Notification.State.DEAD).update(
        state=Notification.State.PENDING, attempts=0, due_at=timezone.now(), last_error="", failure=""
    )
