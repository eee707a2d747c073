"""The log's latest events, kept decoded by each web process, so a crowd resuming reads them once.

In a reconnect storm every shopper resumes from a cursor a few seconds old: each read the same
recent rows from PostgreSQL and decoded their JSON again, a fifth of the web process's CPU while
10,000 came back (py-spy, ``bench.run --quick --profile``, the storm's profile). The process keeps
the last ``REALTIME_RECENT_EVENTS`` positions of the log (every cell), filled by whoever first needs
a range: the repair tick, which reads every new event once a second anyway, or a resume reading up
to the head.

Exact, as cursors are: an event's position and epoch name it (positions are handed out in order
under a lock and become visible in that order, ``realtime.relay``), so a position read once under
an epoch never changes. A log of another epoch, or one whose head went back (a restore), empties
the window.
"""

from __future__ import annotations

import threading
from bisect import bisect_right

from django.conf import settings

from eventlog.selectors import LogEvent, log_events


class RecentLog:
    def __init__(self) -> None:
        # Positions, not seconds: a shopper's cursor moves only when a frame reaches them, so a shopper
        # in a quiet corner of the city resumes from thousands of positions back. With 2,000 kept, the
        # reference benchmark's storm (after ~4,000 changes) sent those resumes to PostgreSQL, filtered
        # by cells: 35% of a core for PostgreSQL and 52.6 s to bring 10,000 shoppers back; with 10,000
        # kept (~2.6 KB each, decoded), 14% and 30.4 s.
        self.window = settings.REALTIME_RECENT_EVENTS
        self._lock = threading.Lock()
        # The events of log ``epoch`` with ``low < position <= high``, in position order.
        self.epoch: str | None = None
        self.low = self.high = 0
        self.events: list[LogEvent] = []
        self.positions: list[int] = []
        # Each cell's kept positions, ascending: a resume looks only at its own cells' events. Filtering
        # the whole range instead was the largest single piece of the reconnect storm's CPU after the
        # sweep (py-spy, ``bench.run --connections 10000 --profile``: 12% of the web process, on its
        # database thread, holding the GIL): a shopper in a quiet corner resumes from thousands of
        # positions back and all but a few of them are elsewhere.
        self.by_cell: dict[str, list[int]] = {}

    def between(
        self, *, after: int, through: int, epoch: str, limit: int, cells: frozenset[str] | None = None,
    ) -> list[LogEvent]:
        """At most ``limit`` events with ``after < position <= through``, in order, of log ``epoch``,
        only those routed to ``cells`` if given (as ``eventlog.selectors.log_events``).

        Precondition: ``through`` and ``epoch`` were read together from the log (``log_bounds``).
        """
        if after >= through:
            return []
        if through - after > self.window:
            return log_events(after=after, through=through, cells=cells, limit=limit)
        with self._lock:
            if epoch != self.epoch or self.low == self.high or through - self.high > self.window:
                # Another log, nothing kept yet, or all of it would be trimmed: start at ``after``.
                self._start(epoch, after)
            if after < self.low:
                return log_events(after=after, through=through, cells=cells, limit=limit)
            if through > self.high:
                self._extend(through)
            if cells is None:
                return self.events[bisect_right(self.positions, after):bisect_right(self.positions, through)][:limit]
            wanted: set[int] = set()
            for cell in cells:
                kept = self.by_cell.get(cell)
                if kept:
                    wanted.update(kept[bisect_right(kept, after):bisect_right(kept, through)])
            return [self.events[bisect_right(self.positions, position) - 1] for position in sorted(wanted)[:limit]]

    def forget(self) -> None:
        """Drop what is kept (the log went back: a restore, noticed by ``realtime.repair``)."""
        with self._lock:
            self._start(None, 0)

    def _start(self, epoch: str | None, at: int) -> None:
        """Keep nothing, of log ``epoch``, from position ``at`` on."""
        self.epoch, self.low, self.high, self.events, self.positions, self.by_cell = epoch, at, at, [], [], {}

    def _extend(self, through: int) -> None:
        fresh = log_events(after=self.high, through=through, limit=through - self.high)
        self.events.extend(fresh)
        self.positions.extend(event.position for event in fresh)
        for event in fresh:
            for cell in event.cells:
                self.by_cell.setdefault(cell, []).append(event.position)
        self.high = through
        if self.high - self.low > self.window:
            self.low = self.high - self.window
            drop = bisect_right(self.positions, self.low)
            for cell in {cell for event in self.events[:drop] for cell in event.cells}:
                kept = self.by_cell[cell]
                del kept[:bisect_right(kept, self.low)]
                if not kept:
                    del self.by_cell[cell]
            del self.events[:drop], self.positions[:drop]


recent_log = RecentLog()
