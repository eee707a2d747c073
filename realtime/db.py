"""Database access from the web process's event loop."""

from channels.db import database_sync_to_async


def db_read(func):
    """Run a read-only query off Channels' single shared database thread, so sockets connect in parallel.

    Channels runs ``database_sync_to_async`` calls one at a time on one thread by default; reads that
    need no transaction shared with other calls gain nothing from that and queue behind each other.
    """
    return database_sync_to_async(func, thread_sensitive=False)
