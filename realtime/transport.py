"""The socket behind an ASGI ``send``: how many bytes it still has to write, and a cheap way to write.

ASGI's ``send`` hides the server's write buffer, and both servers accept a frame into their buffer
without waiting for the client to read it. Without a look at that buffer, one shopper who stops
reading makes the process hold every frame meant for them. ``outlet`` finds the buffer behind the
``send`` callable of the two servers Dealcast runs under; ``tests/test_live_fanout.py`` stops
reading a socket under each and fails if either server changes how its buffer is reached.

Under daphne the outlet also writes text frames itself: a frame through ``send`` passes daphne's
reply handler, autobahn's message, frame and data layers (which format a debug line's arguments for
every frame) and Twisted's write buffer, whose writer registration costs two ``epoll_ctl`` calls per
frame. That path was ~55% of the web process's loop while fanning out (py-spy, ``bench.run --quick
--profile`` at 100 changes/s); ``tests/test_frame_writer.py`` checks the frames. Because every text
frame then passes the outlet, it knows how many bytes it wrote since it last looked at the buffers,
and looks again (an ``ioctl``) only when those could have taken the socket past its bound.
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

# A socket whose server stopped accepting writes (uvicorn pauses at the transport's high-water mark)
# is as stuck as one past any bound.
STALLED = 2**62


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


def text_frame(payload: bytes) -> bytes:
    """An unfragmented, unmasked text frame, as a server sends it (RFC 6455, section 5.2)."""
    length = len(payload)
    if length <= 125:
        return bytes((0x81, length)) + payload
    if length <= 0xFFFF:
        return b"\x81\x7e" + length.to_bytes(2, "big") + payload
    return b"\x81\x7f" + length.to_bytes(8, "big") + payload


class Outlet:
    """A socket under a server whose buffer is out of reach: nothing is known, frames take ``send``."""

    __slots__ = ()

    def unsent(self) -> int:
        return 0

    def over(self, limit: int) -> bool:
        """Whether the socket's client has left more than ``limit`` bytes unread."""
        return self.unsent() > limit

    def write(self, text: str) -> bool:
        """Write a text frame at once (or drop it, the socket closing) and return True, or return False:
        the frame must take ``send``."""
        return False


class AsyncioOutlet(Outlet):
    """uvicorn: the asyncio transport's buffer and the kernel's queue, measured before every write (a
    paused transport makes ``send`` wait, and the hub must never wait on one socket)."""

    __slots__ = ("transport", "writable", "fd")

    def __init__(self, protocol: Any) -> None:
        self.transport, self.writable = protocol.transport, getattr(protocol, "writable", None)
        sock = self.transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1

    def unsent(self) -> int:
        if self.writable is not None and not self.writable.is_set():
            return STALLED
        return self.transport.get_write_buffer_size() + kernel_unsent(self.fd)


class AutobahnOutlet(Outlet):
    """daphne: an autobahn protocol on a Twisted TCP transport; every text frame of an open socket is
    written here, so the bytes written since the buffers were last measured are known."""

    __slots__ = ("protocol", "transport", "sock", "fd", "measured", "written")

    def __init__(self, protocol: Any) -> None:
        self.protocol, self.transport = protocol, protocol.transport
        self.sock = self.transport.socket
        self.fd = self.transport.fileno()
        self.measured = self.written = 0

    def unsent(self) -> int:
        # Twisted's FileDescriptor keeps what the kernel refused in ``dataBuffer`` (from ``offset``).
        # Writes since its last flush wait apart, in ``_tempDataBuffer``: a burst for a reader that
        # keeps up sits there too until the reactor's next turn, so it is not counted.
        transport = self.transport
        self.measured = len(transport.dataBuffer) - transport.offset + kernel_unsent(self.fd)
        self.written = 0
        return self.measured

    def over(self, limit: int) -> bool:
        # Unsent bytes only grow by what is written: below the bound by that reckoning, they are.
        return self.measured + self.written > limit and self.unsent() > limit

    def write(self, text: str) -> bool:
        protocol, transport = self.protocol, self.transport
        if protocol.state != protocol.STATE_OPEN or not transport.connected or transport.disconnecting:
            # Before the handshake's end daphne's reply handler knows what to do. A closing socket
            # drops the frame (autobahn would raise; its client resumes from its cursor).
            return protocol.state != protocol.STATE_CONNECTING
        payload = text.encode()
        if protocol.send_queue or protocol._perMessageCompress is not None or transport.TLS:
            # autobahn's own queue, compression or TLS terminated by daphne: autobahn frames it.
            protocol.sendMessage(payload)
            self.written += len(payload)
            return True
        data = text_frame(payload)
        self.written += len(data)
        if transport.dataBuffer or transport._tempDataBuffer:
            # Twisted still holds earlier bytes of this socket: these go after them.
            transport.write(data)
            return True
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # A broken connection: Twisted's own write meets the same error and ends the connection.
            sent = 0
        if sent < len(data):
            transport.write(data[sent:])
        return True


def outlet(send: Callable[..., Any]) -> Outlet:
    """The outlet of the socket behind an ASGI ``send`` callable.

    daphne passes ``functools.partial(server.handle_reply, protocol)`` (an autobahn protocol on a
    Twisted transport); uvicorn passes its protocol's bound ``send``. Under any other server the
    outlet knows nothing, and only the client's own read timeout bounds a slow client.
    """
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
        transport = getattr(protocol, "transport", None)
        if hasattr(protocol, "send_queue") and hasattr(transport, "_tempDataBuffer") and hasattr(transport, "socket"):
            return AutobahnOutlet(protocol)
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and hasattr(transport, "get_write_buffer_size"):
        return AsyncioOutlet(owner)
    return Outlet()
