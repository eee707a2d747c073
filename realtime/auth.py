"""Who a socket belongs to and what area they saved, from the session cookie, in one database trip.

Channels' ``AuthMiddlewareStack`` loads the session and then the user as two calls queued on
Channels' single shared database thread, so a crowd of reconnecting shoppers connects one query at
a time. Here the session, the user (through Django's own ``auth.get_user``: session hash checked, as
for a page request) and the saved area run as one call on the loop's thread pool.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils import timezone

from realtime.db import db_read
from realtime.subscriptions import Subscription


def _login_of(session_key: str | None) -> tuple[Any, Subscription | None, float | None]:
    """The user, their saved area and the seconds until the session expires."""
    if not session_key:
        return AnonymousUser(), None, None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    if not user.is_authenticated:
        return user, None, None
    return user, saved_area(user), _seconds_left(store)


def _seconds_left(store) -> float:
    """Until the session's stored expiry (database sessions keep it in the row, not in the data)."""
    model = getattr(store, "get_model_class", None)
    if model is None:
        return float(store.get_expiry_age())
    expires = model().objects.filter(session_key=store.session_key).values_list("expire_date", flat=True).first()
    return max(0.0, (expires - timezone.now()).total_seconds()) if expires else 0.0


def saved_area(user) -> Subscription | None:
    if not user.has_saved_location:
        return None
    return Subscription.build(
        lat=user.home_lat, lng=user.home_lng, radius_km=float(user.radius_km),
        category_ids=list(user.categories.values_list("id", flat=True)),
    )


class SessionAuthMiddleware:
    """Puts ``user``, ``session_key`` (the login the socket must close with), ``saved_area`` and
    ``session_expires_in`` (seconds, for the socket to close when its login lapses) in the scope."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin-1"))
                break
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        user, saved, expires_in = await db_read(_login_of)(session_key)
        scope = dict(
            scope, user=user, session_key=session_key if user.is_authenticated else None, saved_area=saved,
            session_expires_in=expires_in,
        )
        return await self.inner(scope, receive, send)
