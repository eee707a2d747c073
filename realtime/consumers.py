"""The live deals socket at ``/ws/deals/`` (protocol in docs/realtime.md and CONTRACT.md).

A socket holds no channel of its own: ``realtime.hub`` receives each event once for the process and
hands it to the sockets whose area it may concern. The consumer keeps what is per shopper: the
subscription, the cursor, the rate limits, and the frames sent on a subscribe.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from markets.geo import InvalidLocation
from realtime import metrics
from realtime.cursor import Cursor, InvalidCursor
from realtime.db import db_read
from realtime.frames import LiveEvent
from realtime.groups import cell_group, logins_of
from realtime.hub import hub
from realtime.ratelimit import ACCOUNT_SUBSCRIBES_PER_SECOND, TokenBucket
from realtime.reach import reach
from realtime.selectors import CursorTooOld, area_snapshot, events_after
from realtime.subscriptions import Subscription, saved_area
from realtime.transport import outlet

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4096
# Close code for a socket whose unsent bytes passed REALTIME_MAX_UNSENT_BYTES; the client reconnects
# and resumes from its cursor, so nothing is lost, only the backlog is dropped.
CLOSE_TOO_SLOW = 4008
# The login behind the socket ended (logout or deactivation).
CLOSE_SESSION_ENDED = 4401
# The session or the account already holds as many sockets as it may on this web process.
CLOSE_TOO_MANY_SOCKETS = 4429
FRAMES_PER_SECOND, FRAME_BURST = 10.0, 20.0
SUBSCRIBES_PER_SECOND, SUBSCRIBE_BURST = 1.0, 5.0
# Events held while a subscribe reads its snapshot; past this the log repair delivers the rest.
MAX_HELD_EVENTS = 2000
# No layer alias is configured under this name, so Channels gives the socket no channel of its own
# (``get_channel_layer`` returns None): the hub is the process's only layer client.
HUB_ONLY = "dealcast-hub-only"


def close_when_session_expires(consumer) -> asyncio.TimerHandle | None:
    """A timer that ends the socket when its session lapses (a reconnect then needs a fresh login)."""
    seconds = consumer.scope.get("session_expires_in")
    if seconds is None:
        return None
    return asyncio.get_running_loop().call_later(seconds, lambda: asyncio.ensure_future(consumer.end_session()))


class NoThreadHopPerMessage:
    """Handlers run straight from the socket's messages, without Channels' hop to its database thread.

    Channels (4.2+) runs ``close_old_connections`` on its one shared sync thread before every handler
    and after a disconnect, for consumers that use the ORM from that thread. These consumers reach the
    database only through ``database_sync_to_async`` (``realtime.db.db_read``), which closes
    connections around each call itself. The hop was 10% of the web process's CPU in a reconnect storm
    (py-spy, ``bench.run --quick --profile``), two queued thread round trips per socket.
    realtime/tests/test_consumers.py checks that a socket's life makes none.
    """

    async def dispatch(self, message) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message) -> None:
        # No ``groups`` to leave: the hub holds the process's subscriptions, the dashboard its own.
        await self.disconnect(message["code"])
        raise StopConsumer()


class EndsWithLogin:
    """A socket the hub knows by its login (``hub.attach``), with a timer for its session's expiry:
    both released however the socket ends, even when the server cancels it."""

    async def __call__(self, scope, receive, send) -> None:
        self.hub_groups: set[str] = set()
        self.expiry: asyncio.TimerHandle | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            hub.detach(self)
            if self.expiry is not None:
                self.expiry.cancel()


class DealsConsumer(NoThreadHopPerMessage, EndsWithLogin, AsyncWebsocketConsumer):
    """One shopper's connection.

    Subscribes run one at a time under ``self.lock``. While one reads its snapshot or replay,
    ``pending`` holds the live events the hub offers; they are applied after it, and those the
    snapshot already reflected are dropped by position (the Zulip pattern: register, then load).
    """

    channel_layer_alias = HUB_ONLY

    async def connect(self) -> None:
        """Refuse anonymous users; subscribe a shopper with a saved location at once."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.user_id = user.pk
        self.lock = asyncio.Lock()
        self.sub: Subscription | None = None
        self.cursor: Cursor | None = None
        self.pending: list[LiveEvent] | None = None
        self.live_since = hub.tick
        self.closing = False
        self.frame_budget = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        self.subscribe_budget = TokenBucket(SUBSCRIBES_PER_SECOND, SUBSCRIBE_BURST)
        self.outlet = outlet(self.base_send)
        await self.accept()
        await hub.attach(self, logins_of(self.scope))
        over = hub.over_socket_caps(self.scope)
        if over:
            self.closing = True
            await self.send_error("too_many_sockets", over)
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.account_budget = hub.account_budget(user.pk)
        self.expiry = close_when_session_expires(self)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "lat" in query:
            # The subscribe frame's fields in the URL: a reconnecting page resumes its own area from
            # its cursor at once, instead of first being shown the saved location's snapshot.
            await self.handle_subscribe({
                "lat": query["lat"][0], "lng": query.get("lng", [None])[0],
                "radius_km": query.get("radius_km", [None])[0], "after": query.get("after", [None])[0],
                "categories": [c for c in query.get("categories", [""])[0].split(",") if c] or None,
            })
            return
        saved = await db_read(saved_area)(self.scope["user"])
        if saved is not None:
            await self.subscribe(saved, after=None)

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
        if not self.account_budget.take():
            # Shared by the account's sockets: ten sockets may not make ten times the snapshots.
            await self.send_error(
                "rate_limited", f"At most {ACCOUNT_SUBSCRIBES_PER_SECOND:g} subscriptions per second per account."
            )
            return
        fields = {"lat": frame.get("lat"), "lng": frame.get("lng"), "radius_km": frame.get("radius_km"),
                  "categories": frame.get("categories")}
        try:
            # Category slugs are looked up in the database; an area alone is built on the loop, so a
            # reconnecting crowd costs the thread pool one hop per socket less.
            sub = await db_read(Subscription.build)(**fields) if fields["categories"] else Subscription.build(**fields)
            after = Cursor.decode(frame["after"]) if frame.get("after") is not None else None
        except (InvalidLocation, InvalidCursor, ValueError) as exc:
            await self.send_error("invalid_subscription", str(exc))
            return
        await self.subscribe(sub, after=after)

    async def subscribe(self, sub: Subscription, *, after: Cursor | None) -> None:
        """Join the new cells' groups first, then read the snapshot or replay, then apply what was held."""
        async with self.lock:
            self._hold_from_now()
            try:
                old = set(self.hub_groups)
                new = {cell_group(cell) for cell in sub.cells}
                hub.remove(self, list(old - new))
                self.sub = sub
                await hub.add(self, list(new - old))
                if after is not None:
                    try:
                        matched, head = await db_read(events_after)(sub=sub, cursor=after)
                    except CursorTooOld:
                        after = None
                    else:
                        self.cursor = after
                        for event, _ in matched:
                            await self._send_if_new(LiveEvent.from_log(event))
                        self.cursor.advance(head)
                if after is None:
                    await self._send_snapshot()
            finally:
                await self._apply_held()

    async def resync(self) -> None:
        """Replace the client's view with a fresh snapshot (its gap is too long to replay, or the log
        it was reading was replaced)."""
        if self.sub is None:
            return
        async with self.lock:
            self._hold_from_now()
            try:
                await self._send_snapshot()
            finally:
                await self._apply_held()

    async def _send_snapshot(self) -> None:
        snapshot = await db_read(area_snapshot)(self.sub)
        self.cursor = Cursor(epoch=snapshot.epoch, base=snapshot.head)
        for deal in snapshot.deals:
            reach.record(deal_id=deal["id"], market_id=deal["market"]["id"], user_id=self.user_id)
        await self.send_text(
            orjson.dumps({"type": "snapshot", "deals": snapshot.deals, "cursor": self.cursor.encode()}).decode()
        )
        metrics.snapshots.inc()

    def _hold_from_now(self) -> None:
        # Until the held events are applied, no repair tick may settle this socket's cursor.
        self.pending = []
        self.live_since = math.inf

    async def _apply_held(self) -> None:
        while self.pending:
            await self._send_if_new(self.pending.pop(0))
        self.pending = None
        self.live_since = hub.tick

    async def _send_if_new(self, event: LiveEvent) -> None:
        frame = self.frame_for(event)
        if frame is None:
            return
        # Replays and held events obey the same bound as live fan-out: a client that requests them and
        # never reads is closed, not buffered for.
        if self.outlet.over(settings.REALTIME_MAX_UNSENT_BYTES):
            self.too_slow()
            return
        await self.send_text(frame)

    # Called by the hub, synchronously, for each live event of this socket's groups ----------------

    def hold(self, event: LiveEvent) -> None:
        if len(self.pending) < MAX_HELD_EVENTS:
            self.pending.append(event)

    def frame_for(self, event: LiveEvent) -> str | None:
        """The frame for ``event`` if it is new to this socket and concerns its area, else None."""
        if self.closing or self.sub is None or self.cursor is None:
            return None
        # The area first: most sockets an event is offered to are outside it, and the cursor's
        # bookkeeping can wait for a socket that gets a frame.
        distance = self.sub.match(event.footprints)
        if distance is None:
            return None
        floor = hub.floor_for(self.live_since)
        if floor > self.cursor.base:
            self.cursor.advance(floor)
        if self.cursor.seen(event.position):
            return None
        self.cursor.add(event.position)
        if event.left_head is not None and self.sub.left(event.footprints):
            return event.frame(distance, self.cursor.encode(), left=True)
        if event.reaches and distance <= self.sub.radius_km:
            reach.record(deal_id=event.deal_id, market_id=event.market_id, user_id=self.user_id)
        return event.frame(distance, self.cursor.encode())

    def too_slow(self) -> None:
        """Close a socket that stopped reading; it resumes from the cursor it last received."""
        if self.closing:
            return
        self.closing = True
        metrics.slow_closes.inc()
        logger.warning("closing a socket with %s unsent bytes", self.outlet.unsent())
        asyncio.ensure_future(self.close(code=CLOSE_TOO_SLOW))

    async def end_session(self) -> None:
        """The login behind this socket ended: close it."""
        self.closing = True
        await self.close(code=CLOSE_SESSION_ENDED)

    async def send_text(self, text: str) -> None:
        if not self.outlet.write(text):
            await self.send_through_server(text)

    async def send_through_server(self, text: str) -> None:
        """ASGI ``send``: for a frame the outlet left to the server (``Outlet.write`` returned False)."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_error(self, code: str, message: str) -> None:
        await self.send_text(orjson.dumps({"type": "error", "code": code, "message": message}).decode())


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """A socket to a path that serves none: refused at the handshake (HTTP 403), nothing logged as an error."""

    channel_layer_alias = HUB_ONLY

    async def connect(self) -> None:
        await self.close()
