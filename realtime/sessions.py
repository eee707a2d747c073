"""Ending live connections when their login ends (called by ``realtime.receivers``)."""

from __future__ import annotations

import logging

from django.db import transaction

from realtime.groups import LOGINS_GROUP, session_login, user_login
from realtime.publisher import publisher

logger = logging.getLogger(__name__)


def _close(login: str) -> None:
    try:
        # Every web process hears it; those holding sockets of that login close them.
        publisher.publish([(LOGINS_GROUP, {"type": "session.ended", "login": login})])
    except Exception:  # noqa: BLE001 - without Redis the socket stays until it drops; it only sees public deals
        logger.warning("could not tell web processes to close sockets of %s", login, exc_info=True)


def sockets_close_for_session(session_key: str | None) -> None:
    if session_key:
        transaction.on_commit(lambda: _close(session_login(session_key)))


def sockets_close_for_user(user_id: int) -> None:
    transaction.on_commit(lambda: _close(user_login(user_id)))
