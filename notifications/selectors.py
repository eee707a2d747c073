from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import NotificationPreferences, PushSubscription, WatchedProduct


def preferences_of(user) -> NotificationPreferences:
    """The shopper's notification preferences, or the defaults (unsaved) when they never set any."""
    return NotificationPreferences.objects.filter(user=user).first() or NotificationPreferences(user=user)


def watches_of(user) -> QuerySet[WatchedProduct]:
    return WatchedProduct.objects.filter(user=user)


def browsers_of(user) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user=user).order_by("created_at")


def browser_subscribed(user, *, endpoint: str, session_key: str | None) -> bool:
    """Whether the browser at ``endpoint`` gets this user's pushes through the login it is in now."""
    return bool(session_key) and PushSubscription.objects.filter(
        user=user, endpoint=endpoint, session_key=session_key
    ).exists()
