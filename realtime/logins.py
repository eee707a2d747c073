"""Logins a web process read a moment ago, so a crowd reconnecting with them skips the database.

A reconnect storm (a network blip, a balancer restart) brings every shopper back with the session it
had seconds before; reading each session and user again was a third of the web process's CPU per
reconnect (py-spy, ``bench.run --profile``). The process remembers each login it read for
``REALTIME_LOGIN_REMEMBER_SECONDS``, and forgets it as soon as it hears the login end: every logout,
password change and deactivation is announced to every web process on the ``logins`` group
(``realtime.sessions``), the same notice that closes the login's open sockets. A login is remembered
only while the process hears those notices, and not when one arrived during its read. Expiry is
checked on every use. What a lost notice (Redis away) costs is bounded by the same seconds: an open
socket of that login stays open until Redis is back anyway.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, NamedTuple

from django.conf import settings

from realtime.groups import session_login, user_login

MAX_REMEMBERED = 100_000


class Remembered(NamedTuple):
    user: Any
    expires_at: float
    remembered_at: float
    names: tuple[str, str]


class RecentLogins:
    def __init__(self) -> None:
        self.entries: OrderedDict[str, Remembered] = OrderedDict()
        self.by_name: dict[str, set[str]] = {}
        # Counts ended logins heard; a read that saw it change may have raced a logout.
        self.generation = 0
        # Set by the hub while it is subscribed to the ``logins`` group.
        self.hearing = False

    def recall(self, session_key: str) -> tuple[Any, float] | None:
        """The user and the seconds their session has left, if read recently and not ended since."""
        entry = self.entries.get(session_key)
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry.remembered_at > settings.REALTIME_LOGIN_REMEMBER_SECONDS or now >= entry.expires_at:
            self._drop(session_key)
            return None
        return entry.user, entry.expires_at - now

    def remember(self, session_key: str, user: Any, expires_in: float, *, generation: int) -> None:
        """Keep a login read from the database, unless a login ended while it was being read."""
        if not self.hearing or generation != self.generation or settings.REALTIME_LOGIN_REMEMBER_SECONDS <= 0:
            return
        now = time.monotonic()
        self._drop(session_key)
        names = (user_login(user.pk), session_login(session_key))
        self.entries[session_key] = Remembered(user, now + expires_in, now, names)
        for name in names:
            self.by_name.setdefault(name, set()).add(session_key)
        self._prune(now)

    def forget(self, login: str) -> None:
        """A login ended (a user's or a session's name, as ``realtime.groups`` spells them)."""
        self.generation += 1
        for session_key in self.by_name.pop(login, ()):
            self._drop(session_key)

    def _prune(self, now: float) -> None:
        ttl = settings.REALTIME_LOGIN_REMEMBER_SECONDS
        while self.entries:
            session_key, oldest = next(iter(self.entries.items()))
            if now - oldest.remembered_at <= ttl and len(self.entries) <= MAX_REMEMBERED:
                return
            self._drop(session_key)

    def _drop(self, session_key: str) -> None:
        entry = self.entries.pop(session_key, None)
        if entry is None:
            return
        for name in entry.names:
            keys = self.by_name.get(name)
            if keys is not None:
                keys.discard(session_key)
                if not keys:
                    del self.by_name[name]


recent_logins = RecentLogins()
