"""Writes a shopper makes to what they are told: browsers subscribed to push, watched products,
digest and quiet hours."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from notifications.models import NotificationPreferences, PushSubscription, WatchedProduct

MAX_BROWSERS = 10
MAX_WATCHES = 50


def push_subscribe(*, user, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Remember this browser's subscription (a browser that subscribes again replaces its keys)."""
    with transaction.atomic():
        existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if existing is None and PushSubscription.objects.filter(user=user).count() >= MAX_BROWSERS:
            raise ValidationError(f"At most {MAX_BROWSERS} browsers per account get notifications.")
        subscription, _ = PushSubscription.objects.update_or_create(
            endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]}
        )
    return subscription


def push_unsubscribe(*, user, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


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
    for name, value in fields.items():
        setattr(prefs, name, value)
    prefs.full_clean(exclude=["user"])
    prefs.save()
    return prefs


def digest_unsubscribe(*, user) -> None:
    notification_preferences_set(user=user, digest=NotificationPreferences.Digest.OFF)
