"""Writes a shopper makes to what they are told: browsers subscribed to push, watched products,
digest and quiet hours."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import NotificationPreferences, PushSubscription, WatchedProduct

MAX_BROWSERS = 10
MAX_WATCHES = 50


class SubscriptionTaken(Exception):
    """The browser's subscription belongs to another account whose login in that browser is still open."""


def push_subscribe(
    *, user, session_key: str, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Remember this browser's subscription for the login ``session_key`` (a browser that subscribes
    again replaces its keys and its login).

    A subscription moves to another account only once the login that made it has ended: in the same
    browser that is always so (logging in as someone else ends the last login), while anyone else who
    learnt the endpoint cannot take another shopper's pushes.
    """
    with transaction.atomic():
        existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if existing is not None and existing.user_id != user.pk and existing.session_key != session_key:
            if Session.objects.filter(session_key=existing.session_key, expire_date__gt=timezone.now()).exists():
                raise SubscriptionTaken("This browser's notifications belong to another account that is still logged in.")
        moving_in = existing is None or existing.user_id != user.pk
        if moving_in and PushSubscription.objects.filter(user=user).count() >= MAX_BROWSERS:
            raise ValidationError(f"At most {MAX_BROWSERS} browsers per account get notifications.")
        subscription, _ = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "user": user, "session_key": session_key, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300],
            },
        )
    return subscription


def push_unsubscribe(*, user, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def push_unsubscribe_login(*, session_key: str) -> int:
    """The login ended: the browsers it subscribed stop getting the account's pushes."""
    deleted, _ = PushSubscription.objects.filter(session_key=session_key).delete()
    return deleted


def push_unsubscribe_all(*, user_id: int) -> int:
    """Every login of the account ended (a new password, a deactivated account)."""
    deleted, _ = PushSubscription.objects.filter(user_id=user_id).delete()
    return deleted


def watch_add(*, user, text: str, target_price: Decimal | None = None) -> WatchedProduct:
    text = " ".join(text.split())
    if not text:
        raise ValidationError({"text": "Name the product to watch."})
    if target_price is not None and target_price <= 0:
        raise ValidationError({"target_price": "A target price is above zero."})
    if WatchedProduct.objects.filter(user=user).count() >= MAX_WATCHES:
        raise ValidationError({"text": f"At most {MAX_WATCHES} watched products."})
    try:
        with transaction.atomic():
            return WatchedProduct.objects.create(user=user, text=text, target_price=target_price)
    except IntegrityError:
        raise ValidationError({"text": f"You already watch “{text}”."}) from None


def watch_remove(*, user, watch_id: int) -> bool:
    deleted, _ = WatchedProduct.objects.filter(user=user, pk=watch_id).delete()
    return bool(deleted)


def notification_preferences_set(*, user, **fields) -> NotificationPreferences:
    prefs, _ = NotificationPreferences.objects.get_or_create(user=user)
    was_daily = prefs.digest == NotificationPreferences.Digest.DAILY
    for name, value in fields.items():
        setattr(prefs, name, value)
    if prefs.digest == NotificationPreferences.Digest.DAILY and not was_daily:
        if not (user.email and user.email_verified):
            raise ValidationError({"digest": "Confirm your e-mail address first: the digest goes only to a confirmed address."})
        prefs.digest_since = timezone.now()
    prefs.full_clean(exclude=["user"])
    prefs.save()
    return prefs


def digest_unsubscribe(*, user) -> None:
    notification_preferences_set(user=user, digest=NotificationPreferences.Digest.OFF)
