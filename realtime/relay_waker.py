"""Waking the relay after events commit (a receiver of ``eventlog.signals.events_committed``)."""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings

from realtime import metrics
from realtime.queued_wake_up import queued_wake_up

logger = logging.getLogger(__name__)


class RelayWaker:
    """Wakes the relay after commits, with at most one wake-up being sent per process at a time.

    A commit only sets a flag; a daemon thread turns the flag into one Celery message, so a burst of
    commits costs a few broker round trips instead of one each, and no commit waits on the broker.
    A commit that lands while a message is being sent sets the flag again: no wake-up is lost. No
    message is sent while another waits in the queue (``QueuedWakeUp``).

    After each wake-up the thread waits ``RELAY_WAKE_INTERVAL_SECONDS`` before the next: asking Redis
    whether a wake-up waits, once per commit, cost a writer committing back to back a fifth of its
    rate (650 -> 520 commits/s with no worker), on a thread sharing the commits' interpreter lock.
    With a worker consuming (``python -m bench.commits``, 2026-12-06): ~400 commits/s with no
    interval, ~490 with 5 ms, ~590 with 10 ms, the relay lag p50 8-11 ms in all. A lone commit is
    woken at once; one that follows within the interval waits at most the interval.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    # A forked worker child inherits the flag but not the thread.
                    self._flag = threading.Event()
                    threading.Thread(target=self._run, name="relay-waker", daemon=True).start()
                    self._pid = os.getpid()
        self._flag.set()

    def _run(self) -> None:
        flag = self._flag
        while True:
            flag.wait()
            flag.clear()
            self._wake_up()
            time.sleep(settings.RELAY_WAKE_INTERVAL_SECONDS)

    def _wake_up(self) -> None:
        from realtime.tasks import relay_outbox

        if not queued_wake_up.claim():
            metrics.relay_wake_ups.labels("coalesced").inc()
            return
        try:
            relay_outbox.delay()
        except Exception as exc:  # noqa: BLE001 - the beat sweep relays the row within a second anyway
            queued_wake_up.taken()
            # One line, no traceback: during a Redis outage this repeats for every commit.
            logger.warning("could not wake the relay (%s); the sweep will pick the row up", exc)
        else:
            metrics.relay_wake_ups.labels("sent").inc()


relay_waker = RelayWaker()
