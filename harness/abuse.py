"""One greedy account, as the review measured it: many sockets, each resuming from far back every second.

Used by the fault suite (``abusive_account``): it runs while the phase drives changes, and reports what
the account got; the phase's tally shows what the other shoppers lost (nothing) and how fast their
live events and ``GET /api/deals/`` were meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from harness.client import origin_of

SOCKETS = 10
SOCKETS_TRIED = 30


@dataclass
class AbuseReport:
    sockets_tried: int = 0
    sockets_refused: int = 0
    resumes_sent: int = 0
    snapshots: int = 0
    events: int = 0
    rate_limited: int = 0
    bytes_received: int = 0


class GreedyAccount:
    """``SOCKETS`` sockets of one account (two logins) resume from ``cursor`` once a second each."""

    def __init__(self, url: str, sessions: list[str], area: dict, cursor: str) -> None:
        self.url, self.sessions, self.area, self.cursor = url, sessions, area, cursor
        self.report = AbuseReport()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._running.set()
        self._try_too_many()
        for index in range(SOCKETS):
            thread = threading.Thread(target=self._resume_every_second, args=(self.sessions[index % 2],), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> AbuseReport:
        self._running.clear()
        for thread in self._threads:
            thread.join(timeout=10)
        return self.report

    def _headers(self, session: str) -> dict:
        return {"Cookie": f"sessionid={session}", "Origin": origin_of(self.url)}

    def _try_too_many(self) -> None:
        """Open more sockets from one login than it may hold; count the ones the server refuses.

        Each socket is asked a question only a connected socket answers (a frame of an unknown type):
        the server handles a socket's frames only after its connect handler, so every socket ends in
        either the refusal or that answer, however late a busy server sends them.
        """
        opened = []
        for _ in range(SOCKETS_TRIED):
            ws = connect(self.url, additional_headers=self._headers(self.sessions[0]), open_timeout=5)
            opened.append(ws)
        for ws in opened:
            try:
                ws.send(json.dumps({"type": "are_you_connected"}))
            except ConnectionClosed:
                pass
        deadline = time.monotonic() + 15.0
        # Every socket's answer before any socket closes: a busy server may still be deciding the last
        # ones when the client has read the first, and closing an accepted one then frees a place
        # (the fault suite once counted 19 refusals of 30 that way).
        refused = [self._refused(ws, deadline) for ws in opened]
        for ws in opened:
            ws.close()
        self.report.sockets_refused = sum(refused)
        self.report.sockets_tried = SOCKETS_TRIED

    @staticmethod
    def _refused(ws, deadline: float) -> bool:
        try:
            while True:
                frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
                if frame.get("code") == "too_many_sockets":
                    return True
                if frame.get("code") == "unknown_type":
                    return False
        except (TimeoutError, ConnectionClosed):
            return False

    def _resume_every_second(self, session: str) -> None:
        while self._running.is_set():
            try:
                with connect(self.url, additional_headers=self._headers(session), open_timeout=5, max_size=2**24) as ws:
                    while self._running.is_set():
                        ws.send(json.dumps({"type": "subscribe", **self.area, "after": self.cursor}))
                        self._count("resumes_sent")
                        deadline = time.monotonic() + 1.0
                        while (left := deadline - time.monotonic()) > 0:
                            try:
                                message = ws.recv(timeout=left)
                            except TimeoutError:
                                break
                            self._count("bytes_received", len(message))
                            frame = json.loads(message)
                            kind = frame["type"]
                            if kind == "snapshot":
                                self._count("snapshots")
                            elif kind == "event":
                                self._count("events")
                            elif frame.get("code") == "rate_limited":
                                self._count("rate_limited")
            except (ConnectionClosed, InvalidHandshake, OSError):
                time.sleep(0.2)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + amount)
