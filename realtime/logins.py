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

The seconds count from the read, or from when a socket of the login last closed here: while a socket
is open its login is as good as that socket, which the same notice would have closed. A crowd that
drops after an hour online comes back from memory; counted from the read only, the benchmark's storm
(a minute and a half after its shoppers connected) read every login again, 13% of the web process
while they came back (py-spy).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, NamedTuple

from django.conf import settings

from realtime.groups import USER_LOGIN_PREFIX, session_login, user_login

MAX_REMEMBERED = 100_000


class Remembered(NamedTuple):
    user: Any
    expires_at: float
    remembered_at: float


class RecentLogins:
    """Keyed by the session's login name (``realtime.groups.session_login``), the name its end is
    announced under; a user's end (rare: a password change, a deactivation) is looked for among all."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, Remembered] = OrderedDict()
        # Counts ended logins heard; a read that saw it change may have raced a logout.
        self.generation = 0
        # Set by the hub while it is subscribed to the ``logins`` group.
        self.hearing = False

    def recall(self, session_key: str) -> tuple[Any, float] | None:
        """The user and the seconds their session has left, if read recently and not ended since."""
        name = session_login(session_key)
        entry = self.entries.get(name)
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry.remembered_at > settings.REALTIME_LOGIN_REMEMBER_SECONDS or now >= entry.expires_at:
            del self.entries[name]
            return None
        return entry.user, entry.expires_at - now

    def remember(self, session_key: str, user: Any, expires_in: float, *, generation: int) -> None:
        """Keep a login read from the database, unless a login ended while it was being read."""
        if not self.hearing or generation != self.generation or settings.REALTIME_LOGIN_REMEMBER_SECONDS <= 0:
            return
        now = time.monotonic()
        name = session_login(session_key)
        self.entries.pop(name, None)
        self.entries[name] = Remembered(user, now + expires_in, now)
        ttl = settings.REALTIME_LOGIN_REMEMBER_SECONDS
        while len(self.entries) > MAX_REMEMBERED or now - next(iter(self.entries.values())).remembered_at > ttl:
            self.entries.popitem(last=False)

    def touch(self, login: str) -> None:
        """A socket of ``login`` closed: its seconds start again (if it is remembered at all)."""
        entry = self.entries.get(login)
        if entry is not None:
            self.entries[login] = entry._replace(remembered_at=time.monotonic())
            self.entries.move_to_end(login)

    def forget(self, login: str) -> None:
        """A login ended (a user's or a session's name, as ``realtime.groups`` spells them)."""
        self.generation += 1
        # A session's end is one lookup; only a user's (rare) needs the walk.
        if self.entries.pop(login, None) is None and login.startswith(USER_LOGIN_PREFIX):
            for name in [name for name, entry in self.entries.items() if user_login(entry.user.pk) == login]:
                del self.entries[name]


recent_logins = RecentLogins()
