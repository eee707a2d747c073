"""Who a socket belongs to, from its session cookie, in one trip to a database thread.

Channels' ``AuthMiddlewareStack`` loads the session and then the user as two calls queued on
Channels' single shared database thread, so a crowd of reconnecting shoppers connects one query at
a time. Here both reads run as one call on the loop's thread pool, through Django's own
``auth.get_user`` (session hash checked, as for a page request).
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from realtime.db import db_read


def _login_of(session_key: str | None):
    if not session_key:
        return AnonymousUser()
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(SimpleNamespace(session=store))


class SessionAuthMiddleware:
    """Puts ``user`` and ``session_key`` (the login the socket must close with) in the scope."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin-1"))
                break
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        user = await db_read(_login_of)(session_key)
        scope = dict(scope, user=user, session_key=session_key if user.is_authenticated else None)
        return await self.inner(scope, receive, send)
