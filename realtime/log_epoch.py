"""Which log a cursor belongs to.

Positions restart when the database is restored from a backup or replaced by a replica that had not
seen the last events; a client's cursor from before would then name positions the new log gives to
other events, and resuming from it would skip them as already seen. The log therefore has an
**epoch** (as Centrifugo's streams do), written into every cursor: a cursor of another epoch, or one
ahead of the head, gets a fresh snapshot instead of a replay.

A restored database brings back the epoch it had, so the relay also keeps the highest position it
pushed in Redis: when the database's head is found below it, the log went back, and the relay gives
it a new epoch before sequencing anything. ``manage.py new_log_epoch`` does the same by hand, for a
restore that lost Redis's copy too.
"""

from __future__ import annotations

import functools
import logging
import secrets

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def new_epoch() -> str:
    return secrets.token_hex(4)


def rotate_epoch() -> str:
    """Give the log a new epoch: every cursor issued so far resumes from a fresh snapshot."""
    epoch = new_epoch()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE realtime_loghead SET epoch = %s WHERE id = 1", [epoch])
    return epoch


def _mark_key() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:log:pushed"


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _head_and_epoch() -> tuple[int, str]:
    # Imported here: realtime.models imports this module for the epoch's default.
    from realtime.selectors import log_bounds

    head, _, epoch = log_bounds()
    return head, epoch


def ensure_not_rewound() -> None:
    """Start a new epoch if the log's head is below what was already pushed under its epoch.

    Precondition: the caller holds the relay's turn (nothing sequences meanwhile).
    """
    head, epoch = _head_and_epoch()
    try:
        mark = _redis().get(_mark_key())
    except redis.RedisError:
        return  # the push will fail too; the next turn checks again
    if mark is None:
        return
    marked_epoch, _, marked_position = mark.decode().partition(":")
    if marked_epoch == epoch and int(marked_position) > head:
        new = rotate_epoch()
        logger.warning(
            "the event log went back from position %s to %s (database restored?): new epoch %s; "
            "clients resume from fresh snapshots", marked_position, head, new,
        )


def remember_pushed() -> None:
    """Record the head as pushed under the current epoch (after a successful push)."""
    head, epoch = _head_and_epoch()
    try:
        _redis().set(_mark_key(), f"{epoch}:{head}")
    except redis.RedisError:
        logger.debug("could not record the pushed head", exc_info=True)
