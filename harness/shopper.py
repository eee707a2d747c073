"""A shopper's real WebSocket connection, read on a background thread."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def session_cookie(user) -> str:
    """The session cookie of a fresh login of ``user``, as a browser would hold it."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class ShopperSocket:
    def __init__(self, url: str, *, session: str | None, origin: str) -> None:
        headers = {"Origin": origin}
        if session:
            headers["Cookie"] = f"sessionid={session}"
        self._connection = connect(url, additional_headers=headers, open_timeout=10, max_size=2**22)
        self.ws = self._connection.__enter__()
        self.frames: queue.Queue = queue.Queue()
        self.closed = threading.Event()
        self.close_code: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.frames.put(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    def send(self, frame: dict | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def subscribe(self, **frame) -> None:
        self.send({"type": "subscribe", **frame})

    def next(self, type_: str | None = None, timeout: float = 10.0) -> dict:
        """The next frame (of ``type_``, skipping others); raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {type_ or 'frame'} within {timeout}s")
            try:
                frame = self.frames.get(timeout=remaining)
            except queue.Empty:
                continue
            if type_ is None or frame["type"] == type_:
                return frame

    def drain(self, quiet: float = 1.0) -> list[dict]:
        """Every frame until none arrives for ``quiet`` seconds."""
        frames = []
        while True:
            try:
                frames.append(self.frames.get(timeout=quiet))
            except queue.Empty:
                return frames

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


def paused_socket(port: int, session: str) -> tuple[socket.socket, bytes]:
    """A WebSocket client of the web process on ``port`` that completes the handshake and reads no further
    until the caller does; returns the socket and the bytes that came after the handshake's headers.

    Its receive buffer is 4 KB, so the server's writes to it back up soon after it stops reading.
    """
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    raw.sendall(
        (
            f"GET /ws/deals/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={session}\r\n\r\n"
        ).encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = raw.recv(4096)
        if not chunk:
            break
        received += chunk
    if not received.startswith(b"HTTP/1.1 101"):
        raise ConnectionError("the server refused the socket")
    return raw, received.partition(b"\r\n\r\n")[2]


def stuck_socket(port: int, session: str) -> socket.socket:
    """A WebSocket client of the web process on ``port`` that completes the handshake, then never reads."""
    return paused_socket(port, session)[0]
