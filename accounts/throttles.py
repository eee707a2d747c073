"""Hourly counts of what anyone may ask for without an account: signups per client address, and
password-reset mail per address asked for and per client."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def _left(key: str, limit: int) -> int:
    return max(0, limit - (cache.get(key) or 0))


def _count(key: str) -> None:
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS)


def signups_left(address: str) -> int:
    return _left(f"signups:{address}", settings.SIGNUPS_PER_HOUR)


def signup_counted(address: str) -> None:
    _count(f"signups:{address}")


def _mailbox_key(email: str) -> str:
    # Hashed: the cache need not hold the addresses people typed.
    return "resets:to:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def password_reset_allowed(*, email: str, client: str) -> bool:
    """Whether one more reset mail may be asked for this address from this client; counts it if so."""
    to, by = _mailbox_key(email), f"resets:by:{client}"
    if not _left(to, settings.PASSWORD_RESETS_PER_ADDRESS) or not _left(by, settings.PASSWORD_RESETS_PER_CLIENT):
        return False
    _count(to)
    _count(by)
    return True


def verification_mail_allowed(*, user_id: int) -> bool:
    """Whether the address check may be sent again to this account this hour; counts it if so."""
    key = f"verify-mail:{user_id}"
    if not _left(key, settings.PASSWORD_RESETS_PER_ADDRESS):
        return False
    _count(key)
    return True
