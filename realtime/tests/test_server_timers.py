"""daphne's connection timers, run for the connections with something due (``realtime.server_timers``).

A real daphne ``Server`` object (not listening) with stand-ins for its connections: what each timer
does to a connection is daphne's; these tests pin down which connections it is done to, and when.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from harness.loops import run_on_own_loop
from realtime import server_timers


@pytest.fixture
def server():
    server_timers.install()
    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"], ping_interval=60,
                    application_close_timeout=10)
    server.connections = {}  # as run() starts it
    return server


class OpenSocket(WebSocketProtocol):
    """An open WebSocket as daphne's timers see it: times, a state, and the checks and pings it got."""

    def __init__(self, server: Server, *, idle_for: float = 0.0) -> None:
        self.server = server
        self.state = self.STATE_OPEN
        self.client_addr, self.path = None, "/ws/deals/"
        self.socket_opened = self.last_ping = time.time() - idle_for
        self.checks = self.pings = 0

    def check_timeouts(self) -> None:
        self.checks += 1
        super().check_timeouts()

    def _sendAutoPing(self) -> None:
        self.pings += 1


class Clock:
    """``time.time`` for daphne and the timers, moved by the test."""

    def __init__(self, monkeypatch) -> None:
        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def timeout_timer_at(server: Server, clock: Clock, start: float, seconds: float) -> None:
    clock.now = start + seconds
    server_timers.timers_of(server).check_timeouts()


def test_an_idle_socket_is_pinged_when_its_ping_is_due_and_not_visited_before(server, clock):
    start = clock.now
    quiet, idle = OpenSocket(server), OpenSocket(server, idle_for=59)
    for socket in (quiet, idle):
        server.protocol_connected(socket)

    timeout_timer_at(server, clock, start, 2)  # each connection is looked at two seconds after it connects
    assert (quiet.checks, quiet.pings, idle.checks, idle.pings) == (1, 0, 1, 1)
    timeout_timer_at(server, clock, start, 30)
    assert (quiet.checks, idle.checks) == (1, 1)  # nothing due, nobody visited
    timeout_timer_at(server, clock, start, 61)
    assert (quiet.checks, quiet.pings, idle.checks) == (2, 1, 1)
    timeout_timer_at(server, clock, start, 63)
    assert (idle.checks, idle.pings) == (2, 2)


def test_a_socket_a_message_kept_alive_is_pinged_a_full_interval_after_that_message(server, clock):
    start = clock.now
    socket = OpenSocket(server)
    server.protocol_connected(socket)
    timeout_timer_at(server, clock, start, 2)
    socket.last_ping = start + 50  # daphne's mark of a message from the client

    timeout_timer_at(server, clock, start, 61)
    assert (socket.checks, socket.pings) == (2, 0)
    timeout_timer_at(server, clock, start, 109)
    assert socket.checks == 2
    timeout_timer_at(server, clock, start, 111)
    assert (socket.checks, socket.pings) == (3, 1)


def test_a_socket_is_closed_when_its_lifetime_ends_even_if_it_is_kept_alive(server, clock):
    start = clock.now
    server.websocket_timeout = 90
    socket = OpenSocket(server)
    closed = []
    socket.serverClose = lambda: closed.append(round(clock.now - start))
    server.protocol_connected(socket)
    for second in range(2, 100, 2):
        socket.last_ping = clock.now  # chatty: never due for a ping
        timeout_timer_at(server, clock, start, second)
    assert closed and closed[0] == 92


def test_connections_that_are_gone_are_neither_checked_nor_kept(server, clock):
    start = clock.now
    closed, dropped = OpenSocket(server, idle_for=100), OpenSocket(server, idle_for=100)
    for socket in (closed, dropped):
        server.protocol_connected(socket)
        server.protocol_disconnected(socket)
    server_timers.timers_of(server).reap()
    assert closed not in server.connections and dropped not in server.connections
    dropped_ref = weakref.ref(dropped)
    del dropped, socket
    gc.collect()
    assert dropped_ref() is None  # the timers do not hold it until its check

    timeout_timer_at(server, clock, start, 2)
    assert closed.checks == 0


def running(server: Server, application) -> OpenSocket:
    """A socket daphne accepted, with ``application`` running for it."""
    server.application = application
    socket = OpenSocket(server)
    server.protocol_connected(socket)
    server.create_application(socket, {"type": "websocket"})
    return socket


def test_a_closed_connection_is_forgotten_once_its_application_ends(server):
    async def scenario():
        ended = asyncio.Event()

        async def application(scope, receive, send):
            await ended.wait()

        socket = running(server, application)
        server.protocol_disconnected(socket)

        server_timers.timers_of(server).reap()
        assert socket in server.connections  # its application is still closing down
        ended.set()
        await asyncio.sleep(0.01)
        server_timers.timers_of(server).reap()
        assert socket not in server.connections

    run_on_own_loop(scenario())


def test_an_application_that_outlives_its_connection_too_long_is_cancelled(server):
    async def scenario():
        async def application(scope, receive, send):
            await asyncio.sleep(3600)

        server.application_close_timeout = 0
        socket = running(server, application)
        instance = server.connections[socket]["application_instance"]
        server.protocol_disconnected(socket)
        await asyncio.sleep(0.01)

        server_timers.timers_of(server).reap()
        await asyncio.sleep(0.01)
        assert instance.cancelled()
        server_timers.timers_of(server).reap()
        assert socket not in server.connections

    run_on_own_loop(scenario())


def test_an_application_that_ends_while_its_socket_is_open_is_let_go_and_the_socket_kept(server):
    async def scenario():
        async def application(scope, receive, send):
            return None

        socket = running(server, application)
        await asyncio.sleep(0.01)

        server_timers.timers_of(server).reap()
        assert socket in server.connections and "application_instance" not in server.connections[socket]
        assert socket not in server_timers.timers_of(server).settling
        server.protocol_disconnected(socket)
        server_timers.timers_of(server).reap()
        assert socket not in server.connections

    run_on_own_loop(scenario())
