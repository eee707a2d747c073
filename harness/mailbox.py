"""A real SMTP server (aiosmtpd) that tests and ``make faults`` start, stop and read the mail back from."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """Accepts every message over SMTP and keeps it, parsed, for the test to find."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self.port = free_port()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    def start(self) -> Mailbox:
        """Listen on ``port`` (again, after ``stop``: a mail server that went down and came back)."""
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, to: str, *, timeout: float = 15.0) -> EmailMessage:
        """The first message addressed to ``to``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self.messages:
                    if to in str(message["To"]):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {to} within {timeout}s; got {[m['To'] for m in self.messages]}")
                self._arrived.wait(left)
