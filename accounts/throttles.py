"""How many accounts one address may open: signup is open to anyone, so it is counted per address."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def _key(address: str) -> str:
    return f"signups:{address}"


def signups_left(address: str) -> int:
    return max(0, settings.SIGNUPS_PER_HOUR - (cache.get(_key(address)) or 0))


def signup_counted(address: str) -> None:
    if cache.add(_key(address), 1, timeout=WINDOW_SECONDS):
        return
    try:
        cache.incr(_key(address))
    except ValueError:  # expired between add and incr
        cache.add(_key(address), 1, timeout=WINDOW_SECONDS)
