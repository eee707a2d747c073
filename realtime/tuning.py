"""Process settings for a web process that holds thousands of long-lived sockets.

Each socket keeps a few hundred objects alive for hours. CPython's collector walks every tracked
object on a full collection, and its default gen-0 threshold (700 allocations) makes a connect storm
trigger collections constantly; both showed up as pauses that delayed every socket. Objects that
exist once the app is loaded (modules, settings, URL patterns) are frozen out of collection, and
young collections run less often. ``REALTIME_GC_THRESHOLD=0`` keeps CPython's defaults. Every
collection's pause is timed into ``dealcast_gc_pause_seconds``.

autobahn (daphne's WebSocket protocol) pretty-prints its whole configuration for a debug log line
on every connection, whether or not debug logging is on: 7.6% of the web process's CPU while
shoppers connected (py-spy, ``bench.run --connect-only --profile``). The text is now made only if
the line is written.
"""

from __future__ import annotations

import gc
import time
from pprint import pformat

from django.conf import settings

from realtime import metrics, server_timers


def tune_for_many_sockets() -> None:
    defer_autobahn_config_dump()
    server_timers.install()
    gc.callbacks.append(time_collections)
    threshold = settings.REALTIME_GC_THRESHOLD
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(threshold, gen1, gen2)


_collection_started = 0.0


def time_collections(phase: str, info: dict) -> None:
    """Each collection's pause, by generation, into ``dealcast_gc_pause_seconds`` (a latency tail with
    a quiet p95 is what a full collection of many sockets looks like)."""
    global _collection_started
    if phase == "start":
        _collection_started = time.perf_counter()
    else:
        metrics.gc_pauses.labels(str(info["generation"])).observe(time.perf_counter() - _collection_started)


class PrettyWhenLogged:
    """``pformat(obj)``, computed when a log line formats it (txaio drops disabled levels unformatted)."""

    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj

    def __format__(self, spec: str) -> str:
        return format(pformat(self.obj), spec)

    def __str__(self) -> str:
        return pformat(self.obj)


def defer_autobahn_config_dump() -> None:
    """Give autobahn's protocol module a ``pformat`` that formats only when logged.

    Its other use, ``Timings.__str__``, must return a string: it gets the real one back.
    """
    try:
        from autobahn.websocket import protocol
    except ImportError:  # served by uvicorn without daphne installed
        return
    protocol.pformat = PrettyWhenLogged
    protocol.Timings.__str__ = lambda timings: pformat(timings._timings)
