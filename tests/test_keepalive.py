"""Keepalive pings through a real daphne, whose timers visit only the sockets with a ping due
(``realtime.server_timers``): a client that answers stays, one that went silent is let go."""

from __future__ import annotations

import socket
import time

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from harness.shopper import ShopperSocket, paused_socket, session_cookie
from tests.factories import BERLIN, MarketFactory, ShopperFactory, create_deal, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

PING_EVERY, PONG_WITHIN = 1, 2


def pings_until_dropped(sock: socket.socket, received: bytes, timeout: float) -> tuple[int, bool]:
    """Read a client that never answers: (pings it got, whether the server dropped it) within ``timeout``."""
    parser = FrameProtocol(client=True, extensions=[])
    parser.receive_bytes(received)
    pings, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        pings += sum(1 for frame in parser.received_frames() if frame.opcode is Opcode.PING)
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return pings, True
        if not chunk:
            return pings, True
        parser.receive_bytes(chunk)
    return pings, False


@pytest.fixture
def pinging_web(stack):
    """A web process of its own that pings every second and waits two for the pong; stopped after."""
    port = stack.start_web(keepalive=(PING_EVERY, PONG_WITHIN))
    yield port
    stack.stop_web([p for p, _ in stack.webs].index(port))


def test_a_shopper_who_went_silent_is_let_go_and_one_who_answers_stays_live(pinging_web):
    # given a web process that pings every second and waits two for the pong
    port = pinging_web
    shopper = ShopperFactory()
    session = session_cookie(shopper)
    live = ShopperSocket(f"ws://127.0.0.1:{port}/ws/deals/", session=session, origin=f"http://127.0.0.1:{port}")
    live.next("snapshot")
    # when one of the shopper's sockets stops answering (a phone that lost its network)
    silent, received = paused_socket(port, session)
    pings, dropped = pings_until_dropped(silent, received, timeout=20)
    # then it was pinged, and dropped once a pong was overdue
    assert pings >= 1
    assert dropped
    # and the socket whose client answers every ping is still open and still gets deals
    assert not live.closed.is_set()
    deal = create_deal(market=MarketFactory(lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1]), product="Pears")
    assert live.next("event", timeout=10)["event"]["data"]["id"] == deal.pk
    live.close()
