"""Ending live connections when their login ends. Called by views and admin after the change."""

from __future__ import annotations

import logging

from django.db import transaction

from realtime.groups import session_group, user_group
from realtime.publisher import publisher

logger = logging.getLogger(__name__)

def _close(groups: list[str]) -> None:
    try:
        # The group rides along: a web process receives every login group on one channel.
        publisher.publish((group, {"type": "session.ended", "group": group}) for group in groups)
    except Exception:  # noqa: BLE001 - the consumer re-checks the user on its next reconcile
        logger.warning("could not tell web processes to close sockets of %s", groups, exc_info=True)


def sockets_close_for_session(session_key: str | None) -> None:
    if session_key:
        transaction.on_commit(lambda: _close([session_group(session_key)]))


def sockets_close_for_user(user_id: int) -> None:
    transaction.on_commit(lambda: _close([user_group(user_id)]))
