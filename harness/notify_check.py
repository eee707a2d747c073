"""The notifier under faults: opted-in shoppers with browsers at a push service and an SMTP server
run by the harness, and a count of what each should have got against what arrived.

What a shopper should be told about each published deal is worked out here from the event and the
shoppers' saved places (not with the notifier's own matching), so a notifier that decides too little
shows as lost. Then every decision must have reached every browser of its shopper exactly once, and
every digest written must have arrived exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from harness.mailbox import Mailbox
from harness.push_service import PushService, open_logins, subscribe

SHOPPERS = 15


# What the hostile account's browsers do at the push service, beside the honest crowd's (issue 30's review).
HOSTILE_BROWSERS = ["trickle", *["hang"] * 7, "huge", "redirect"]


@dataclass
class NotifyTally:
    fault: str
    published: int = 0
    expected: int = 0
    decided: int = 0
    pushes: int = 0
    lost: int = 0
    duplicated: int = 0
    dead: int = 0
    digests: int = 0
    digests_lost: int = 0
    digests_duplicated: int = 0
    # Measured in the hostile phase: the honest pushes' commit-to-push (arrival at the push service)
    # and the notifier's memory (all its processes), at its peak.
    push_p50_ms: float | None = None
    push_p99_ms: float | None = None
    notifier_before_mb: float | None = None
    notifier_peak_mb: float | None = None
    hostile_failures: str = ""

    @property
    def ok(self) -> bool:
        # A phase in which nothing was published proves nothing.
        return self.published > 0 and not (
            self.lost or self.duplicated or self.dead or self.digests_lost or self.digests_duplicated
        )


def wait_notifier_settled(*, timeout: float = 300.0) -> float:
    """Seconds until the notifier has read the whole log and no honest shopper's push or digest waits
    to be sent (the hostile account's retries may wait as long as their backoff says)."""
    from django.db import connection

    from eventlog.readers import reader_lag
    from notifications.models import DigestMail, Notification
    from notifications.notifier import READER

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            honest_pending = Notification.objects.filter(state="pending", user__username__startswith="notified-")
            if (reader_lag(READER) == 0 and not honest_pending.exists()
                    and not DigestMail.objects.filter(state="pending").exists()):
                break
        except Exception:  # noqa: BLE001 - the database may be restarting
            connection.close()
        time.sleep(0.2)
    return time.monotonic() - started


class ProcessTreeSampler:
    """The peak memory (RSS, MB) of a process and its children, sampled every 0.1 s until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="memory-sampler", daemon=True)

    def current_mb(self) -> float:
        import psutil

        root = psutil.Process(self.pid)
        return round(sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20, 1)

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.1):
            try:
                self.peak_bytes = max(self.peak_bytes, int(self.current_mb() * 2**20))
            except psutil.Error:
                continue

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak_bytes / 2**20, 1)


class NotifiedShoppers:
    """The harness's side of notifications: the push service, the mail server and the shoppers."""

    def __init__(self) -> None:
        self.push = PushService()
        self.mailbox = Mailbox().start()

    def env(self) -> dict[str, str]:
        """What the stack's processes need to reach them, and retries quick enough for a short run."""
        return {
            "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.mailbox.port), "NOTIFY_BACKOFF_SECONDS": "0.5",
            "PUSH_SERVICE_HOSTS": "127.0.0.1:*",
            "NOTIFY_MAX_ATTEMPTS": "10", "DIGEST_HOUR": "0", "DIGEST_SWEEP_SECONDS": "1", "NOTIFY_SWEEP_SECONDS": "0.5",
        }

    def create(self, rng: random.Random) -> None:
        from accounts.models import User
        from demo.seeding import CITY_CENTER, CITY_SPAN
        from notifications.models import NotificationPreferences

        for index in range(SHOPPERS):
            user = User.objects.create(
                username=f"notified-{index}", email=f"notified-{index}@example.com", email_verified=True,
                home_lat=CITY_CENTER[0] + rng.uniform(-CITY_SPAN[0], CITY_SPAN[0]) * 0.6,
                home_lng=CITY_CENTER[1] + rng.uniform(-CITY_SPAN[1], CITY_SPAN[1]) * 0.6,
                radius_km=rng.choice([2, 3, 5]),
            )
            # No cap and no quiet hours: every decision is a push of its own, so each can be counted.
            NotificationPreferences.objects.create(user=user, max_per_hour=30000)
            for browser_index in range(1 + index % 2):
                subscribe(user, self.push.browser(f"{index}-{browser_index}"))

    def add_crowd(self, count: int) -> None:
        """``count`` more opted-in shoppers in the city's middle whose radius takes in every market, a
        browser each: every deal published is a push to each of them."""
        from accounts.models import User
        from demo.seeding import CITY_CENTER
        from markets.geo import MAX_RADIUS_KM
        from notifications.models import NotificationPreferences, PushSubscription

        users = User.objects.bulk_create([
            User(username=f"notified-crowd-{index}", home_lat=CITY_CENTER[0], home_lng=CITY_CENTER[1], radius_km=MAX_RADIUS_KM)
            for index in range(count)
        ])
        NotificationPreferences.objects.bulk_create([NotificationPreferences(user=user, max_per_hour=30000) for user in users])
        browsers = [self.push.browser(f"crowd-{index}") for index in range(count)]
        PushSubscription.objects.bulk_create([
            PushSubscription(user=user, endpoint=browser.endpoint, session_key=key, **browser.keys)
            for user, browser, key in zip(users, browsers, open_logins(users))
        ])

    def add_hostile_account(self) -> None:
        """One account whose browsers hang, trickle, answer 100 MB, redirect, and one key that is no key
        (written straight to the table: the API now refuses it)."""
        from accounts.models import User
        from demo.seeding import CITY_CENTER
        from markets.geo import MAX_RADIUS_KM
        from notifications.models import NotificationPreferences, PushSubscription

        user = User.objects.create(username="hostile", home_lat=CITY_CENTER[0], home_lng=CITY_CENTER[1], radius_km=MAX_RADIUS_KM)
        NotificationPreferences.objects.create(user=user, max_per_hour=30000)
        [session_key] = open_logins([user])
        for index, how in enumerate(HOSTILE_BROWSERS):
            name = f"hostile-{index}-{how}"
            subscribe(user, self.push.browser(name), session_key=session_key)
            self.push.misbehaving[name] = how
        bad = self.push.browser("hostile-bad-key")
        PushSubscription.objects.create(user=user, endpoint=bad.endpoint, session_key=session_key, p256dh="A" * 87, auth=bad.keys["auth"])

    def hostile_failures(self) -> str:
        """What became of the hostile account's rows: their failures by kind, and their states."""
        from notifications.models import Notification

        rows = Notification.objects.filter(user__username="hostile")
        if not rows.exists():
            return ""
        failures = Counter(rows.values_list("failure", flat=True))
        states = Counter(rows.values_list("state", flat=True))
        return "; ".join([", ".join(f"{k or 'none'} {v}" for k, v in sorted(failures.items())),
                          ", ".join(f"{k} {v}" for k, v in sorted(states.items()))])

    def push_latencies_ms(self, *, after: int) -> list[float]:
        """Commit to arrival at the push service, for each honest push decided after ``after``."""
        from notifications.models import Notification

        committed = {
            str(key): at.timestamp() for key, at in Notification.objects.filter(
                position__gt=after, user__username__startswith="notified-"
            ).values_list("key", "committed_at")
        }
        return [(r.at - committed[r.message["id"]]) * 1000 for r in list(self.push.received) if r.message["id"] in committed]

    def want_digests(self) -> None:
        """From now on each shopper wants a daily digest (today's is due at once: DIGEST_HOUR is 0)."""
        from django.utils import timezone

        from notifications.models import NotificationPreferences

        NotificationPreferences.objects.filter(user__username__startswith="notified-").update(
            digest="daily", last_digest_at=timezone.now() - timedelta(hours=1)
        )

    def tally(self, name: str, *, after: int) -> NotifyTally:
        from accounts.models import User
        from eventlog.selectors import log_bounds, log_events
        from markets.geo import distance_km
        from notifications.models import DigestMail, Notification, PushSubscription

        tally = NotifyTally(name)
        shoppers = list(User.objects.filter(username__startswith="notified-").values_list("id", "home_lat", "home_lng", "radius_km"))
        events = [e for e in log_events(after=after, through=log_bounds().head, limit=10**6) if e.type == "discount.published"]
        expected = set()
        for event in events:
            lat, lng, _category = event.footprints[-1]
            for user_id, home_lat, home_lng, radius in shoppers:
                if distance_km(home_lat, home_lng, lat, lng) <= float(radius):
                    expected.add((event.event_id, user_id))
        decided_rows = Notification.objects.filter(position__gt=after, user__username__startswith="notified-")
        decided = {(str(e), u) for e, u in decided_rows.filter(reason="new").values_list("event_id", "user_id")}
        tally.published, tally.expected, tally.decided = len(events), len(expected), decided_rows.count()
        received = Counter((r.browser, r.message["id"]) for r in self.push.received)
        endpoints = dict(PushSubscription.objects.values_list("endpoint", "user_id"))
        browsers_of: dict[int, list[str]] = {}
        for endpoint, user_id in endpoints.items():
            browsers_of.setdefault(user_id, []).append(endpoint.rsplit("/", 1)[-1])
        missing_pushes = sum(
            1 for key, user_id in decided_rows.values_list("key", "user_id")
            for browser in browsers_of.get(user_id, []) if received[(browser, str(key))] == 0
        )
        tally.pushes = sum(received.values())
        tally.lost = len(expected - decided) + missing_pushes
        tally.duplicated = sum(count - 1 for count in received.values() if count > 1)
        tally.dead = Notification.objects.filter(state="dead", user__username__startswith="notified-").count()
        # Per address, the mails that arrived against the digests recorded as sent: a run that passes the
        # city's midnight rightly sends each shopper the new day's digest too.
        sent = Counter(DigestMail.objects.filter(state="sent").values_list("user__email", flat=True))
        mails = Counter(str(m["To"]) for m in self.mailbox.messages)
        tally.digests = sum(mails.values())
        tally.digests_duplicated = sum(max(0, count - sent[address]) for address, count in mails.items())
        tally.digests_lost = DigestMail.objects.exclude(state__in=["sent", "empty"]).count() + sum(
            max(0, count - mails[address]) for address, count in sent.items()
        )
        return tally

    def stop(self) -> None:
        self.push.stop()
        self.mailbox.stop()
