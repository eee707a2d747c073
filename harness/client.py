"""A shopper's tab, as the live page behaves: snapshot, events, dedupe by id, reconnect with cursor."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect


@dataclass
class Area:
    lat: float
    lng: float
    radius_km: float
    categories: list[str] | None = None


@dataclass
class Received:
    event_id: str
    deal_id: int
    type: str
    occurred_at: str
    at: float


def cursor_position(cursor: str) -> int:
    """The log position a cursor is complete up to (its format is in realtime/cursor.py)."""
    return int(cursor.rpartition("-")[2].split(".")[0])


def origin_of(socket_url: str) -> str:
    """The origin of the page that opens a socket at this URL (the site checks it in full)."""
    parts = urlsplit(socket_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


@dataclass
class LiveClient:
    """Runs on its own thread until ``stop()``; ``offline`` keeps it disconnected on purpose.

    Each reconnect goes to the next of ``urls``, as a load balancer would move a shopper whose web
    process died.
    """

    urls: list[str]
    session: str
    area: Area
    read_delay_s: float = 0.0
    view: dict[int, dict] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    frames_per_event: Counter = field(default_factory=Counter)
    out_of_order: int = 0
    snapshots: int = 0
    first_cursor: str | None = None
    cursor: str | None = None
    # Log positions (after, through] a snapshot stood in for: a resume too far back for a replay.
    covered: list[tuple[int, int]] = field(default_factory=list)
    connects: int = 0
    offline: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ws: object = None
    _last_by_deal: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "LiveClient":
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.drop()

    def drop(self) -> None:
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - it may already be gone
                pass

    def go_offline(self) -> None:
        self.offline.set()
        self.drop()

    def go_online(self) -> None:
        self.offline.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.offline.is_set():
                time.sleep(0.05)
                continue
            url = self.urls[self.connects % len(self.urls)]
            try:
                with connect(url, additional_headers={"Cookie": f"sessionid={self.session}", "Origin": origin_of(url)},
                             open_timeout=5, max_size=2**24) as ws:
                    self._ws = ws
                    self.connects += 1
                    frame = {"type": "subscribe", "lat": self.area.lat, "lng": self.area.lng,
                             "radius_km": self.area.radius_km, "categories": self.area.categories}
                    if self.cursor:
                        frame["after"] = self.cursor
                    ws.send(json.dumps(frame))
                    for message in ws:
                        self._handle(json.loads(message))
                        if self.read_delay_s:
                            time.sleep(self.read_delay_s)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                pass
            self._ws = None
            time.sleep(0.2)

    def _in_area(self, deal: dict, distance: float) -> bool:
        cats = self.area.categories
        return distance <= self.area.radius_km and (not cats or deal["category"]["slug"] in cats)

    def _handle(self, frame: dict) -> None:
        with self._lock:
            if frame["type"] == "snapshot":
                self.snapshots += 1
                if self.cursor is not None:
                    self.covered.append((cursor_position(self.cursor), cursor_position(frame["cursor"])))
                self.view = {d["id"]: d for d in frame["deals"]}
                self.cursor = frame["cursor"]
                if self.first_cursor is None:
                    self.first_cursor = frame["cursor"]
            elif frame["type"] == "event":
                event = frame["event"]
                self.frames_per_event[event["id"]] += 1
                self.cursor = frame["cursor"]
                if self.frames_per_event[event["id"]] > 1:
                    return
                deal = event["data"]
                previous = self._last_by_deal.get(deal["id"])
                if previous is not None and event["occurred_at"] < previous:
                    self.out_of_order += 1
                self._last_by_deal[deal["id"]] = event["occurred_at"]
                self.received.append(Received(event["id"], deal["id"], event["type"], event["occurred_at"], time.time()))
                if event["type"] in ("discount.published", "discount.updated") and self._in_area(deal, frame["distance_km"]):
                    self.view[deal["id"]] = deal
                else:
                    self.view.pop(deal["id"], None)

    def duplicates(self) -> int:
        return sum(count - 1 for count in self.frames_per_event.values())
