"""The notifier at the reference load: opted-in shoppers spread over the city, each with a browser at
a push service run by the benchmark (which decrypts every message, as a browser would), deal changes
at the reference rate; notifications sent per second and commit-to-push-sent latency."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.measure import percentile
from harness.notify_check import wait_notifier_settled
from harness.push_service import PushService, open_logins


def opt_in(push: PushService, user_ids: list[int]) -> None:
    """A browser subscription per shopper; no hourly cap, so each decision is a push of its own."""
    from accounts.models import User
    from notifications.models import NotificationPreferences, PushSubscription

    users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
    subscriptions, preferences = [], []
    for user, session_key in zip(users, open_logins(users)):
        browser = push.browser(str(user.pk))
        subscriptions.append(PushSubscription(user_id=user.pk, endpoint=browser.endpoint, session_key=session_key, **browser.keys))
    for user_id in user_ids:
        preferences.append(NotificationPreferences(user_id=user_id, max_per_hour=30000))
    PushSubscription.objects.bulk_create(subscriptions, batch_size=2000)
    NotificationPreferences.objects.bulk_create(preferences, batch_size=2000)


def start_from_now() -> None:
    """The notifier starts at the log's head: the earlier phases' events are not its to send."""
    from eventlog.models import LogConsumer
    from eventlog.selectors import log_bounds
    from notifications.notifier import READER

    bounds = log_bounds()
    LogConsumer.objects.update_or_create(name=READER, defaults={"position": bounds.head, "epoch": bounds.epoch})


def measure_notifier(
    stack, user_ids: list[int], *, drive: Callable[[], int], drive_backlog: Callable[[], int], timeout: float = 300
) -> dict:
    from django.db.models import Max, Min

    from eventlog.readers import reader_lag
    from notifications.models import Notification
    from notifications.notifier import READER

    push = PushService()
    try:
        opt_in(push, user_ids)
        start_from_now()
        # Returns once the worker consumes: its start-up is not the notifier's time (below, a restart, it is).
        stack.start_notifier()
        started = time.time()
        changes = drive()
        driven_s = time.time() - started
        wait_notifier_settled(timeout=timeout)
        rows = Notification.objects.filter(state__in=["sent", "grouped"])
        span = rows.aggregate(first=Min("committed_at"), last=Max("sent_at"))
        lat = [(sent - committed).total_seconds() * 1000 for committed, sent in rows.values_list("committed_at", "sent_at")]
        sent = len(lat)
        busy_s = (span["last"] - span["first"]).total_seconds() if sent else 0.0
        # Catching up: the notifier down while deals keep coming, then the time it takes to send the backlog.
        stack.kill(stack.notifier)
        before = Notification.objects.count()
        backlog_changes = drive_backlog()
        backlog_events = reader_lag(READER)
        restarted = time.monotonic()
        stack.start_notifier()
        wait_notifier_settled(timeout=timeout)
        catch_up_s = time.monotonic() - restarted
        backlog = Notification.objects.count() - before
        return {
            "backlog": {"changes": backlog_changes, "events": backlog_events, "notifications": backlog,
                        "caught_up_s": round(catch_up_s, 1), "notifications_per_s": round(backlog / catch_up_s, 1)},
            "opted_in": len(user_ids), "changes": changes, "driven_s": round(driven_s, 1), "notifications": sent,
            "pushes_received": len(push.received), "rejected": len(push.rejected),
            "notifications_per_s": round(sent / busy_s, 1) if busy_s else None,
            "drained_after_last_change_s": round(busy_s - driven_s, 1) if sent else None,
            "commit_to_push_sent_ms": {"p50": percentile(lat, 50), "p99": percentile(lat, 99)},
            "left_pending": Notification.objects.filter(state="pending").count(),
        }
    finally:
        # The figures measured after this one (commits, the relay alone) get the CPU to themselves.
        if stack.notifier is not None and stack.notifier.poll() is None:
            stack.kill(stack.notifier)
        push.stop()
