"""The socket behind an ASGI ``send``: how many bytes it still has to write, and a cheap way to write.

ASGI's ``send`` hides the server's write buffer, and both servers accept a frame into their buffer
without waiting for the client to read it. Without a look at that buffer, one shopper who stops
reading makes the process hold every frame meant for them. This module finds the buffer behind the
``send`` callable of the two servers Dealcast runs under; ``tests/test_live_fanout.py`` stops
reading a socket under each and fails if either server changes how its buffer is reached.

Under daphne it also writes text frames itself (``text_writer``): a frame through ``send`` passes
daphne's reply handler, autobahn's message, frame and data layers (which format a debug line's
arguments for every frame) and Twisted's write buffer, whose writer registration costs two
``epoll_ctl`` calls per frame. That path was ~55% of the web process's loop while fanning out (py-spy,
``bench.run --quick --profile`` at 100 changes/s); ``tests/test_frame_writer.py`` checks the frames.
"""

from __future__ import annotations

import fcntl
import functools
import struct
from collections.abc import Callable
from typing import Any

try:
    from termios import TIOCOUTQ
except ImportError:  # not Linux: only the server's own buffer is seen
    TIOCOUTQ = None

UnsentBytes = Callable[[], int]
TextWriter = Callable[[str], bool]

# A socket whose server stopped accepting writes (uvicorn pauses at the transport's high-water mark)
# is as stuck as one past any bound.
STALLED = 2**62


def _unknown() -> int:
    return 0


def kernel_unsent(fd: int) -> int:
    """Bytes in the socket's kernel send queue that the peer has not acknowledged.

    The kernel's send buffer grows to megabytes (``net.ipv4.tcp_wmem``) before the server's own buffer
    sees a byte, so a client that stopped reading shows here first.
    """
    if TIOCOUTQ is None or fd < 0:
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(fd, TIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _twisted_unsent(transport: Any) -> UnsentBytes:
    fd = transport.fileno()

    def unsent() -> int:
        # Twisted's FileDescriptor keeps what the kernel refused in ``dataBuffer`` (from ``offset``).
        # Writes since its last flush wait apart, in ``_tempDataBuffer``: a burst for a reader that
        # keeps up sits there too until the reactor's next turn, so it is not counted.
        return len(transport.dataBuffer) - transport.offset + kernel_unsent(fd)

    return unsent


def _asyncio_unsent(protocol: Any) -> UnsentBytes:
    transport, writable = protocol.transport, getattr(protocol, "writable", None)
    sock = transport.get_extra_info("socket")
    fd = sock.fileno() if sock is not None else -1

    def unsent() -> int:
        if writable is not None and not writable.is_set():
            return STALLED
        return transport.get_write_buffer_size() + kernel_unsent(fd)

    return unsent


def unsent_bytes_probe(send: Callable[..., Any]) -> UnsentBytes:
    """A function returning the unsent bytes of the socket behind an ASGI ``send`` callable.

    daphne passes ``functools.partial(server.handle_reply, protocol)`` (an autobahn protocol on a
    Twisted transport); uvicorn passes its protocol's bound ``send``. Under any other server the probe
    reports 0, and only the client's own read timeout bounds it.
    """
    if isinstance(send, functools.partial) and send.args:
        transport = getattr(send.args[0], "transport", None)
        if transport is not None and hasattr(transport, "dataBuffer"):
            return _twisted_unsent(transport)
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and hasattr(transport, "get_write_buffer_size"):
        return _asyncio_unsent(owner)
    return _unknown


def _cannot_write(text: str) -> bool:
    return False


def text_frame(payload: bytes) -> bytes:
    """An unfragmented, unmasked text frame, as a server sends it (RFC 6455, section 5.2)."""
    length = len(payload)
    if length <= 125:
        return bytes((0x81, length)) + payload
    if length <= 0xFFFF:
        return b"\x81\x7e" + length.to_bytes(2, "big") + payload
    return b"\x81\x7f" + length.to_bytes(8, "big") + payload


def _autobahn_text_writer(protocol: Any) -> TextWriter:
    transport = protocol.transport
    sock = transport.socket
    open_state = protocol.STATE_OPEN

    def write(text: str) -> bool:
        # Anything but a plain, open, uncompressed socket with nothing queued in autobahn takes
        # ``send``: the handshake, closing, TLS, permessage-deflate, autobahn's own send queue.
        if (
            protocol.state != open_state or protocol.send_queue or protocol._perMessageCompress is not None
            or transport.TLS or not transport.connected or transport.disconnecting
        ):
            return False
        data = text_frame(text.encode())
        if transport.dataBuffer or transport._tempDataBuffer:
            # Twisted still holds earlier bytes of this socket: these go after them.
            transport.write(data)
            return True
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # A broken connection: Twisted's own write meets the same error and ends the connection.
            sent = 0
        if sent < len(data):
            transport.write(data[sent:])
        return True

    return write


def text_writer(send: Callable[..., Any]) -> TextWriter:
    """A function that writes a text frame to the socket behind ``send`` at once and returns True,
    or returns False when the frame must go through ``send`` (any server but daphne, or a socket
    that is not plainly open)."""
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
        transport = getattr(protocol, "transport", None)
        if hasattr(protocol, "send_queue") and hasattr(transport, "_tempDataBuffer") and hasattr(transport, "socket"):
            return _autobahn_text_writer(protocol)
    return _cannot_write
