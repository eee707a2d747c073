"""One socket that cannot be sent to (it is closing as the event comes) costs only its own frame."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from autobahn.exception import Disconnected
from autobahn.twisted.websocket import WebSocketServerProtocol

from harness.loops import run_on_own_loop
from realtime.hub import LiveHub
from realtime.transport import AutobahnOutlet, Outlet


class Shopper:
    """What the hub's walk uses of a socket: its frame for the event and a way to send it."""

    pending = None

    def __init__(self, *, closing: bool = False) -> None:
        self.outlet = Outlet()
        self.closing = closing
        self.received: list[str] = []

    def frame_for(self, event) -> str:
        return "frame"

    async def send_through_server(self, frame: str) -> None:
        if self.closing:
            raise Disconnected("Attempt to send on a closed protocol")
        self.received.append(frame)


def test_a_socket_closing_as_an_event_comes_does_not_cut_the_others_off():
    hub = LiveHub()
    open_ones = [Shopper() for _ in range(20)]
    closing_ones = [Shopper(closing=True) for _ in range(5)]
    hub.members = {"cell": {*open_ones, *closing_ones}}

    sent = run_on_own_loop(hub.fan_out(SimpleNamespace(groups=("cell",))))

    assert [shopper.received for shopper in open_ones] == [["frame"]] * 20
    assert sent == 20


def daphne_socket(state: int) -> tuple[AutobahnOutlet, socket.socket]:
    """An autobahn protocol in ``state`` on a Twisted-like transport whose socket's peer is returned."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    transport = SimpleNamespace(
        socket=ours, fileno=ours.fileno, connected=True, disconnecting=state != WebSocketServerProtocol.STATE_OPEN,
        dataBuffer=b"", _tempDataBuffer=[], offset=0, TLS=False,
    )
    protocol = WebSocketServerProtocol()
    protocol.transport, protocol.state = transport, state
    return AutobahnOutlet(protocol), peer


def test_under_daphne_a_closing_socket_drops_the_frame_and_a_handshaking_one_leaves_it_to_daphne():
    closing, peer = daphne_socket(WebSocketServerProtocol.STATE_CLOSING)
    assert closing.write('{"type":"event"}') is True
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing was written to it
        peer.recv(100)

    handshaking, _ = daphne_socket(WebSocketServerProtocol.STATE_CONNECTING)
    assert handshaking.write('{"type":"event"}') is False
