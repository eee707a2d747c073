"""The live deals socket at ``/ws/deals/`` (protocol in docs/realtime.md and CONTRACT.md)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from markets.geo import InvalidLocation
from realtime.cursor import Cursor, InvalidCursor
from realtime.db import db_read
from realtime.groups import cell_group, session_group, user_group
from realtime import metrics
from realtime.hub import hub
from realtime.reach import reach
from realtime.ratelimit import TokenBucket
from realtime.selectors import CursorTooOld, area_snapshot, events_after
from realtime.subscriptions import Subscription

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4096
# Close code for a connection whose backlog passed REALTIME_MAX_PENDING_FRAMES; the client
# reconnects and resumes from its cursor, so nothing is lost, only the backlog is dropped.
CLOSE_TOO_SLOW = 4008
# The login behind the socket ended (logout or deactivation).
CLOSE_SESSION_ENDED = 4401
FRAMES_PER_SECOND, FRAME_BURST = 10.0, 20.0
SUBSCRIBES_PER_SECOND, SUBSCRIBE_BURST = 1.0, 5.0


def _saved_subscription(user) -> Subscription | None:
    if not user.has_saved_location:
        return None
    categories = list(user.categories.values_list("slug", flat=True))
    return Subscription.build(
        lat=user.home_lat, lng=user.home_lng, radius_km=float(user.radius_km), categories=categories or None
    )


class DealsConsumer(AsyncWebsocketConsumer):
    """One shopper's connection: joins the groups of the cells covering their area.

    All state changes (subscribe, live events, repairs) run under ``self.lock`` so a snapshot and the
    events around it are applied in order.
    """

    async def connect(self) -> None:
        """Refuse anonymous users; subscribe a shopper with a saved location at once."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.lock = asyncio.Lock()
        self.sub: Subscription | None = None
        self.cursor: Cursor | None = None
        self.cells: frozenset[str] = frozenset()
        self.closing = False
        self.frame_budget = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.subscribe_budget = TokenBucket(SUBSCRIBES_PER_SECOND, SUBSCRIBE_BURST)
        self.login_groups = [user_group(user.pk)]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            self.login_groups.append(session_group(session.session_key))
        for group in self.login_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        metrics.connections.inc()
        hub.register(self)
        saved = await db_read(_saved_subscription)(user)
        if saved is not None:
            await self.subscribe(saved, after=None)

    async def disconnect(self, code: int) -> None:
        """Leave every group; the hub forgets the connection."""
        if not hasattr(self, "lock"):
            return
        metrics.connections.dec()
        hub.unregister(self)
        for group in [cell_group(cell) for cell in self.cells] + self.login_groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Parse a client frame; anything malformed gets an error frame and the socket stays open."""
        if not self.frame_budget.take():
            await self.send_error("rate_limited", f"At most {FRAMES_PER_SECOND:g} frames per second.")
            return
        if text_data is None:
            await self.send_error("bad_frame", "Send JSON text frames.")
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self.send_error("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
            return
        try:
            frame = orjson.loads(text_data)
        except orjson.JSONDecodeError:
            await self.send_error("bad_json", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("bad_frame", 'A frame is a JSON object with a "type".')
            return
        if frame["type"] == "subscribe":
            await self.handle_subscribe(frame)
        else:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:40]!r}.")

    async def handle_subscribe(self, frame: dict[str, Any]) -> None:
        if not self.subscribe_budget.take():
            await self.send_error("rate_limited", f"At most {SUBSCRIBES_PER_SECOND:g} subscriptions per second.")
            return
        try:
            sub = Subscription.build(
                lat=frame.get("lat"), lng=frame.get("lng"),
                radius_km=frame.get("radius_km"), categories=frame.get("categories"),
            )
            after = Cursor.decode(frame["after"]) if frame.get("after") is not None else None
        except (InvalidLocation, InvalidCursor, ValueError) as exc:
            await self.send_error("invalid_subscription", str(exc))
            return
        await self.subscribe(sub, after=after)

    async def subscribe(self, sub: Subscription, *, after: Cursor | None) -> None:
        """Join the new cells' groups first, then read the snapshot or replay.

        Events that arrive meanwhile wait in the channel queue (or are repaired by the hub) and are
        dropped by position if the snapshot or replay already covered them.
        """
        async with self.lock:
            old = self.cells
            for cell in sub.cells - old:
                await self.channel_layer.group_add(cell_group(cell), self.channel_name)
            for cell in old - sub.cells:
                await self.channel_layer.group_discard(cell_group(cell), self.channel_name)
            self.cells, self.sub = sub.cells, sub
            hub.route(self, old=old, new=sub.cells)
            if after is not None:
                try:
                    matched, head = await db_read(events_after)(sub=sub, cursor=after)
                except CursorTooOld:
                    after = None
                else:
                    self.cursor = after
                    for event, _ in matched:
                        await self._deliver_unlocked(event.position, event.envelope, event.footprints, event.deal)
                    self.cursor.advance(head)
            if after is None:
                await self._send_snapshot()

    async def resync(self) -> None:
        """Replace the client's view with a fresh snapshot (its gap is too long to replay)."""
        async with self.lock:
            await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        snapshot = await db_read(area_snapshot)(self.sub)
        self.cursor = Cursor(base=snapshot.head)
        await self.send(
            text_data=orjson.dumps(
                {"type": "snapshot", "deals": snapshot.deals, "cursor": self.cursor.encode()}
            ).decode()
        )

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Live events skip Channels' per-message ``aclose_old_connections``.

        Channels hops to a thread before every handler to close stale database connections; a live
        event touches no database, and that hop was a quarter of the web process's CPU under load.
        Every query here runs through ``database_sync_to_async``, which closes stale connections in
        its own thread anyway.
        """
        if message["type"] == "deal.event":
            await self.deal_event(message)
        else:
            await super().dispatch(message)

    async def deal_event(self, message: dict[str, Any]) -> None:
        """A live event from a cell group; a connection too far behind is closed to resume later."""
        if self.closing:
            return
        if self._backlog() > settings.REALTIME_MAX_PENDING_FRAMES:
            logger.warning("closing a connection %s messages behind", self._backlog())
            self.closing = True
            metrics.slow_closes.inc()
            await self.close(code=CLOSE_TOO_SLOW)
            return
        await self.deliver(message["position"], message["envelope"], message["footprints"], message["deal"])

    def _backlog(self) -> int:
        """Messages waiting for this connection in the layer.

        The pub/sub layer queues each channel's messages without a bound; its per-loop layer and
        queues are internal to channels-redis 4.3 (pinned), hence the defensive lookups.
        """
        layer = getattr(self.channel_layer, "_get_layer", None)
        queue = layer().channels.get(self.channel_name) if layer else None
        return queue.qsize() if queue is not None else 0

    async def deliver(self, position: int, envelope: bytes | dict, footprints: list, deal: list) -> int:
        async with self.lock:
            return await self._deliver_unlocked(position, envelope, footprints, deal)

    async def _deliver_unlocked(self, position: int, envelope: bytes | dict, footprints: list, deal: list) -> int:
        """Send one event if it is new to this connection and in its area; returns 1 if sent.

        ``deal`` is ``[deal_id, market_id, event_type]``, for counting whom a deal reached.
        """
        if self.sub is None or self.cursor is None or self.cursor.seen(position):
            return 0
        distance = self.sub.match(footprints)
        if distance is None:
            return 0
        self.cursor.add(position)
        encoded = envelope if isinstance(envelope, bytes) else orjson.dumps(envelope)
        frame = b"".join(
            (
                b'{"type":"event","event":', encoded,
                b',"distance_km":', orjson.dumps(distance),
                b',"cursor":', orjson.dumps(self.cursor.encode()), b"}",
            )
        )
        await self.send(text_data=frame.decode())
        metrics.deliveries.inc()
        deal_id, market_id, event_type = deal
        if event_type in ("discount.published", "discount.updated") and distance <= self.sub.radius_km:
            reach.record(deal_id=deal_id, market_id=market_id, user_id=self.scope["user"].pk)
        return 1

    async def session_ended(self, message: dict[str, Any]) -> None:
        """The login behind this socket ended: close it."""
        self.closing = True
        await self.close(code=CLOSE_SESSION_ENDED)

    async def send_error(self, code: str, message: str) -> None:
        await self.send(text_data=orjson.dumps({"type": "error", "code": code, "message": message}).decode())
