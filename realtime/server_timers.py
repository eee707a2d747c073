"""daphne's connection timers, run for the connections that have something due instead of for all.

daphne keeps every connection in one dict and walks all of it on two timers: every second to reap
the application instances of closed connections, every two seconds to send keepalive pings and
enforce timeouts. At 10,000 open sockets the two walks were a quarter of the web process's event
loop at 10 deal changes/s (py-spy, ``bench.run --connections 10000 --rates 10 --profile``:
``application_checker`` 14%, ``timeout_checker`` 11%, nearly all of it visiting sockets with
nothing due), and each walk held the loop for tens of milliseconds, delaying the deliveries queued
behind it.

The timers keep daphne's periods and run daphne's own per-connection checks, on fewer connections:
- timeouts and pings: a heap orders connections by when a check can next be due (an open socket's
  next ping or its lifetime limit; anything else is looked at every two seconds, as daphne does);
- reaping: only connections that disconnected or whose application finished are looked at, each
  until daphne's rules let it go.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import weakref
from concurrent.futures import CancelledError

logger = logging.getLogger("daphne.server")

CHECK_EVERY_SECONDS = 2.0


class ConnectionTimers:
    """The due checks of one daphne ``Server``."""

    def __init__(self, server) -> None:
        self.server = server
        # Weak: a connection that closed before its next check is not kept alive for up to a minute.
        self.due: list[tuple[float, int, weakref.ref]] = []
        self.order = itertools.count()
        self.settling: set = set()

    def watch(self, protocol) -> None:
        self._check_at(time.time() + CHECK_EVERY_SECONDS, protocol)

    def settle(self, protocol) -> None:
        """``protocol`` disconnected or its application finished: the reaper has work on it."""
        self.settling.add(protocol)

    def _check_at(self, when: float, protocol) -> None:
        heapq.heappush(self.due, (when, next(self.order), weakref.ref(protocol)))

    def next_check(self, protocol, now: float) -> float:
        """When ``protocol.check_timeouts()`` can next do something."""
        from daphne.ws_protocol import WebSocketProtocol

        if not isinstance(protocol, WebSocketProtocol) or protocol.state != protocol.STATE_OPEN:
            return now + CHECK_EVERY_SECONDS
        due = protocol.last_ping + self.server.ping_interval
        if self.server.websocket_timeout >= 0:
            due = min(due, protocol.socket_opened + self.server.websocket_timeout)
        return due

    def check_timeouts(self) -> None:
        """Every connection whose check is due, each once (daphne's ``timeout_checker``)."""
        now = time.time()
        connections = self.server.connections
        checked = []
        while self.due and self.due[0][0] <= now:
            protocol = heapq.heappop(self.due)[2]()
            details = connections.get(protocol) if protocol is not None else None
            if details is None or "disconnected" in details:
                continue
            protocol.check_timeouts()
            checked.append(protocol)
        for protocol in checked:
            self._check_at(self.next_check(protocol, now), protocol)

    def reap(self) -> None:
        """daphne's ``application_checker``, for the connections that can need it."""
        connections = self.server.connections
        for protocol in list(self.settling):
            details = connections.get(protocol)
            if details is None:
                self.settling.discard(protocol)
                continue
            self._reap(protocol, details)
            if protocol not in connections or "disconnected" not in details:
                self.settling.discard(protocol)

    def _reap(self, protocol, details: dict) -> None:
        # daphne's application_checker body for one connection, unchanged in what it does.
        server = self.server
        disconnected = details.get("disconnected", None)
        application_instance = details.get("application_instance", None)
        if disconnected and time.time() - disconnected > server.application_close_timeout:
            if application_instance and not application_instance.done():
                logger.warning(
                    "Application instance %r for connection %s took too long to shut down and was killed.",
                    application_instance,
                    repr(protocol),
                )
                application_instance.cancel()
        if application_instance and application_instance.done():
            try:
                exception = application_instance.exception()
            except (CancelledError, asyncio.CancelledError):
                pass
            else:
                if exception:
                    if isinstance(exception, KeyboardInterrupt):
                        server.stop()
                    else:
                        logger.error("Exception inside application: %s", exception, exc_info=exception)
                        if not disconnected:
                            protocol.handle_exception(exception)
            del details["application_instance"]
            application_instance = None
        if not application_instance and disconnected:
            del server.connections[protocol]


def timers_of(server) -> ConnectionTimers:
    timers = server.__dict__.get("_due_timers")
    if timers is None:
        timers = server.__dict__["_due_timers"] = ConnectionTimers(server)
    return timers


def install() -> None:
    """Give daphne's ``Server`` the due-driven timers (the web process's app import calls this)."""
    try:
        from daphne.server import Server
    except ImportError:  # served by uvicorn without daphne installed
        return
    if getattr(Server, "timers_installed", False):
        return
    from twisted.internet import reactor

    connected, disconnected, create_application = (
        Server.protocol_connected, Server.protocol_disconnected, Server.create_application,
    )

    def protocol_connected(self, protocol):
        connected(self, protocol)
        timers_of(self).watch(protocol)

    def protocol_disconnected(self, protocol):
        disconnected(self, protocol)
        timers_of(self).settle(protocol)

    def create_application_watched(self, protocol, scope):
        queue = create_application(self, protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None:
            timers = timers_of(self)
            instance.add_done_callback(lambda _: timers.settle(protocol))
        return queue

    def application_checker(self):
        timers_of(self).reap()
        reactor.callLater(1, self.application_checker)

    def timeout_checker(self):
        timers_of(self).check_timeouts()
        reactor.callLater(CHECK_EVERY_SECONDS, self.timeout_checker)

    Server.protocol_connected = protocol_connected
    Server.protocol_disconnected = protocol_disconnected
    Server.create_application = create_application_watched
    Server.application_checker = application_checker
    Server.timeout_checker = timeout_checker
    Server.timers_installed = True
