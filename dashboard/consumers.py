"""``/ws/staff/``: tells a staff dashboard that its market's figures moved, at most twice a second."""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from markets.selectors import markets_managed_by
from realtime.consumers import CLOSE_SESSION_ENDED, EndsWithLogin, NoThreadHopPerMessage, close_when_session_expires
from realtime.groups import logins_of, staff_group
from realtime.hub import hub

COALESCE_SECONDS = 0.5
MAX_MARKETS = 200


def _market_ids(user) -> list[int]:
    return list(markets_managed_by(user).values_list("pk", flat=True)[:MAX_MARKETS])


class StaffConsumer(NoThreadHopPerMessage, EndsWithLogin, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        """Staff only; joins the staff group of each market they manage."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()
            return
        self.groups_joined = [staff_group(pk) for pk in await database_sync_to_async(_market_ids)(user)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.pending: asyncio.Task | None = None
        await self.accept()
        # Ends with the login, like the deals socket (logout anywhere, password change, deactivation).
        await hub.attach(self, logins_of(self.scope), live=False)
        self.expiry = close_when_session_expires(self)

    async def end_session(self) -> None:
        await self.close(code=CLOSE_SESSION_ENDED)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "pending", None):
            self.pending.cancel()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The dashboard only listens."""

    async def staff_changed(self, message) -> None:
        """Coalesce bursts: one "changed" frame per half second at most."""
        if self.pending is None or self.pending.done():
            self.pending = asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        await self.send(text_data='{"type": "changed"}')
