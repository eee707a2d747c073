"""Noticing that the event log went back (a restored database brought an old epoch back).

A restored database brings back the epoch it had (``eventlog.epoch``), so the relay keeps the
highest position it pushed in Redis: when the database's head is found below it, the log went back,
and the relay gives it a new epoch before sequencing anything, in the transaction that sequences.
``manage.py new_log_epoch`` does the same by hand, for a restore that lost Redis's copy too.
"""

from __future__ import annotations

import functools
import logging

import redis
from django.conf import settings

from eventlog.epoch import rotate_epoch
from eventlog.selectors import log_bounds

logger = logging.getLogger(__name__)


def _mark_key() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:log:pushed"


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def ensure_not_rewound(head: int, epoch: str) -> None:
    """Give the log a new epoch if ``head`` is below what was already pushed under ``epoch``.

    Precondition: the caller holds the log head's row lock, in the transaction that sequences after
    ``head``. A restore landing between a check made apart from it and the sequencing left the log
    numbering a new deal as the lost one, under the same epoch: shoppers who had seen the lost one
    dropped it, and kept the lost deal on screen (seen in CI).
    """
    try:
        mark = _redis().get(_mark_key())
    except redis.RedisError:
        return  # the push will fail too; the next batch checks again
    if mark is None:
        return
    marked_epoch, _, marked_position = mark.decode().partition(":")
    if marked_epoch == epoch and int(marked_position) > head:
        new = rotate_epoch()
        logger.warning(
            "the event log went back from position %s to %s (database restored?): new epoch %s; "
            "clients resume from fresh snapshots", marked_position, head, new,
        )


def remember_pushed(position: int) -> None:
    """Record ``position``, the last one a successful push carried, as pushed under the log's epoch.

    The position comes from the pushed rows, not from the head read now: a restore landing between
    the push and this line made the mark the restored head, so the rewind went unnoticed and the next
    deal, numbered as the lost one, was dropped by every shopper who had seen the lost one (seen in
    CI, once the push reached sockets before the worker got here).
    """
    _, _, epoch = log_bounds()
    try:
        _redis().set(_mark_key(), f"{epoch}:{position}")
    except redis.RedisError:
        logger.debug("could not record the pushed head", exc_info=True)
