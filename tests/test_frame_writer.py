"""Frames the web process writes itself under daphne (``realtime.transport.AutobahnOutlet``).

The writer sends what the kernel takes at once and leaves the rest to Twisted's buffer, after which
every frame of that socket queues behind it. These tests read what it writes with wsproto's parser,
not the server's own code: a wrong header or a frame overtaking another breaks them.
"""

from __future__ import annotations

import json
import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from harness.shopper import paused_socket, session_cookie
from harness.stack import metric, wait_for
from realtime.consumers import SUBSCRIBE_BURST, SUBSCRIBES_PER_SECOND
from realtime.transport import text_frame
from tests.factories import BERLIN, MarketFactory, ShopperFactory, burst, offset_km


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_frame_is_the_one_a_websocket_library_writes(length):
    text = "é" * (length // 2) + "x" * (length % 2)
    assert text_frame(text.encode()) == FrameProtocol(client=False, extensions=[]).send_data(text, True)


def read_messages(
    sock: socket.socket, received: bytes, until: Callable[[list[dict]], bool], *, pace: float = 0.0,
    timeout: float = 30.0,
) -> list[dict]:
    """Parse the text messages ``sock`` sends (starting with ``received``) until ``until`` says so,
    reading at most 8 KB each ``pace`` seconds."""
    parser = FrameProtocol(client=True, extensions=[])
    parser.receive_bytes(received)
    sock.settimeout(timeout)
    messages, parts = [], []
    while True:
        for frame in parser.received_frames():
            assert frame.opcode in (Opcode.TEXT, Opcode.CONTINUATION, Opcode.PING), frame
            if frame.opcode is Opcode.PING:
                continue
            parts.append(frame.payload)
            if frame.message_finished:
                messages.append(json.loads("".join(parts)))
                parts = []
        if until(messages):
            return messages
        time.sleep(pace)
        chunk = sock.recv(8192 if pace else 65536)
        assert chunk, f"the server closed the socket after {len(messages)} messages"
        parser.receive_bytes(chunk)


def kernel_send_buffer_max() -> int:
    """The most a socket's kernel send buffer grows to here."""
    with open("/proc/sys/net/ipv4/tcp_wmem") as limits:
        return int(limits.read().split()[2])


def subscribe_frame(**fields) -> bytes:
    return FrameProtocol(client=True, extensions=[]).send_data(json.dumps({"type": "subscribe", **fields}), True)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_shopper_who_pauses_reading_gets_every_frame_whole_and_in_order(stack):
    # given a web process that lets a socket fall far behind (its bound of unsent bytes above what the
    # kernel holds for a socket, so the process's own buffer takes the rest), 500 deals with long names
    # 1 km from a shopper (a snapshot frame of over 64 KB), and a market 2 km away
    near = MarketFactory(name="Near " + "n" * 100, lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    farther = MarketFactory(name="Farther", lat=offset_km(*BERLIN, north_km=2)[0], lng=BERLIN[1])
    burst(near, 500, product="Before " + "b" * 180)
    port = stack.start_web(extra_env={"REALTIME_MAX_UNSENT_BYTES": str(64 * 2**20)})
    web = len(stack.webs) - 1
    sock, received = paused_socket(port, session_cookie(ShopperFactory()))
    try:
        first = read_messages(sock, received, until=lambda messages: len(messages) == 1)[0]
        assert first["type"] == "snapshot" and len(first["deals"]) == 500
        snapshot_bytes = len(json.dumps(first))
        assert snapshot_bytes > 65535
        # when it subscribes again and again without reading (within its rate limit), until more
        # snapshot bytes are sent to it than the kernel can hold for it
        wanted = 1 + math.ceil(kernel_send_buffer_max() / snapshot_bytes)
        for sent in range(2, wanted + 1):
            if sent > 1 + SUBSCRIBE_BURST:
                time.sleep(1.05 / SUBSCRIBES_PER_SECOND)
            sock.sendall(subscribe_frame(lat=BERLIN[0], lng=BERLIN[1], radius_km=5))
            assert wait_for(lambda: metric(port, "dealcast_socket_snapshots_total") == sent, timeout=30)
        # and then 50 deals are published at the farther market (never among a snapshot's nearest 500)
        # while it reads its backlog slowly, so the kernel has room for a while before the process
        # gets its turn to write more of its buffer
        with ThreadPoolExecutor(1) as reader:
            reading = reader.submit(
                read_messages, sock, b"", lambda messages: sum(m["type"] == "event" for m in messages) == 50,
                pace=0.005, timeout=60,
            )
            burst(farther, 50, product="After")
            # then every snapshot arrives whole and the events follow, once each, in the order made
            messages = reading.result(timeout=120)
        snapshots = [m for m in messages if m["type"] == "snapshot"]
        events = [m for m in messages if m["type"] == "event"]
        assert len(snapshots) == wanted - 1 and {len(m["deals"]) for m in snapshots} == {500}
        assert messages == snapshots + events
        ids = [e["event"]["data"]["id"] for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 50
    finally:
        sock.close()
        stack.stop_web(web)
