"""What shoppers asked to be told, and every notification decided for them.

A ``Notification`` row is written before anything is sent, under unique constraints: one per
(event, shopper, channel), and one per (deal, shopper, channel, reason), so a replayed event or a
second price drop of the same deal sends nothing twice.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class PushSubscription(models.Model):
    """One browser's Web Push subscription (a shopper may have several)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200, help_text="The browser's public key (base64url).")
    auth = models.CharField(max_length=100, help_text="The browser's auth secret (base64url).")
    user_agent = models.CharField(max_length=300, blank=True)
    # The login that subscribed this browser: pushes stop when it ends (logout, expiry, a new
    # password), as that browser's live sockets do, and only that login may move it to another account.
    session_key = models.CharField(max_length=40, db_index=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} · {self.user_agent[:40] or self.endpoint[:40]}"


class NotificationPreferences(models.Model):
    """How and when a shopper wants to be told; absent means the defaults."""

    class Digest(models.TextChoices):
        OFF = "off", "Off"
        DAILY = "daily", "Daily"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    digest = models.CharField(max_length=8, choices=Digest.choices, default=Digest.OFF)
    quiet_from = models.TimeField(null=True, blank=True, help_text="No pushes from this time (the city's time)…")
    quiet_until = models.TimeField(null=True, blank=True, help_text="…until this time; they wait until then.")
    max_per_hour = models.PositiveSmallIntegerField(
        default=4, help_text="More than this in an hour arrive grouped into one push."
    )
    last_digest_at = models.DateTimeField(null=True, blank=True)
    # When the digest was last turned on: unsubscribe links name it, so a link from before turning it
    # off and on again no longer works.
    digest_since = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Notification preferences of {self.user}"


class WatchedProduct(models.Model):
    """A product a shopper watches, optionally at or below a target price."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watched_products")
    text = models.CharField(max_length=100)
    target_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["text"]
        constraints = [
            models.UniqueConstraint("user", Lower("text"), name="watch_once_per_product"),
        ]

    def __str__(self) -> str:
        return self.text + (f" at {self.target_price} or less" if self.target_price is not None else "")


class Notification(models.Model):
    """One decision to tell one shopper about one event, and what became of it."""

    class Channel(models.TextChoices):
        PUSH = "push", "Web Push"

    class Reason(models.TextChoices):
        NEW = "new", "New deal nearby"
        DROP = "drop", "Price drop nearby"
        WATCH = "watch", "Watched product"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        GROUPED = "grouped", "Sent grouped with others"
        GONE = "gone", "No browser to send to"
        DEAD = "dead", "Dead letter"

    event_id = models.UUIDField()
    position = models.BigIntegerField(help_text="The event's position in the log.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.PUSH)
    reason = models.CharField(max_length=8, choices=Reason.choices)
    deal_id = models.BigIntegerField()
    payload = models.JSONField(help_text="What the notification says and opens.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    sent_to = models.JSONField(default=list, help_text="Subscriptions that accepted it (a retry skips them).")
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    failure = models.CharField(
        max_length=12, blank=True, help_text="What last went wrong, in a word (timeout, status, redirect, keys, …)."
    )
    committed_at = models.DateTimeField(help_text="When the event's change committed (for latency).")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Also the notification's tag.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "user", "channel"], name="notify_once_per_event"),
            models.UniqueConstraint(fields=["deal_id", "user", "channel", "reason"], name="notify_once_per_deal_reason"),
        ]
        indexes = [
            models.Index(fields=["due_at", "id"], name="notification_due", condition=models.Q(state="pending")),
            models.Index(fields=["user", "sent_at"], name="notification_sent_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} for {self.user} (deal {self.deal_id}, {self.state})"


class NotifierDeadEvent(models.Model):
    """An event the notifier could not plan for: set aside, so it does not stop the ones after it."""

    position = models.BigIntegerField(unique=True)
    event_id = models.UUIDField()
    error = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    retried_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"event at {self.position}: {self.error[:60]}"


class DigestMail(models.Model):
    """One shopper's digest of one day: written before it is sent, so a day's digest goes out once."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        EMPTY = "empty", "Nothing new to tell"
        DEAD = "dead", "Dead letter"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digests")
    day = models.DateField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    since = models.DateTimeField(help_text="Deals published after this are new to the shopper.")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_once_a_day")]

    def __str__(self) -> str:
        return f"Digest of {self.day} for {self.user} ({self.state})"
