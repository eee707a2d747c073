"""Process settings for a web process that holds thousands of long-lived sockets.

Each socket keeps a few hundred objects alive for hours. CPython's collector walks every tracked
object on a full collection, and its default gen-0 threshold (700 allocations) makes a connect storm
trigger collections constantly; both showed up as pauses that delayed every socket. Objects that
exist once the app is loaded (modules, settings, URL patterns) are frozen out of collection, and
young collections run less often. ``REALTIME_GC_THRESHOLD=0`` keeps CPython's defaults.
"""

from __future__ import annotations

import gc

from django.conf import settings


def tune_for_many_sockets() -> None:
    threshold = settings.REALTIME_GC_THRESHOLD
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(threshold, gen1, gen2)
