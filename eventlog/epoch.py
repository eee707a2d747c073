"""Which log a cursor belongs to.

Positions restart when the database is restored from a backup or replaced by a replica that had not
seen the last events; a client's cursor from before would then name positions the new log gives to
other events, and resuming from it would skip them as already seen. The log therefore has an
**epoch** (as Centrifugo's streams do), written into every cursor: a cursor of another epoch, or one
ahead of the head, gets a fresh snapshot instead of a replay. ``realtime.log_epoch`` notices a
restore that brought an old epoch back; ``manage.py new_log_epoch`` rotates it by hand.
"""

from __future__ import annotations

import secrets

from django.db import connection


def new_epoch() -> str:
    return secrets.token_hex(4)


def rotate_epoch() -> str:
    """Give the log a new epoch: every cursor issued so far resumes from a fresh snapshot."""
    epoch = new_epoch()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE realtime_loghead SET epoch = %s WHERE id = 1", [epoch])
    return epoch
