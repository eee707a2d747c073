"""The web process's fan-out: one subscription per group per process, each event decoded once.

Sockets never talk to the channel layer. The hub owns one layer channel for the whole process and
joins a cell's group when the first local socket needs it, leaving it
``REALTIME_LEAVE_AFTER_SECONDS`` after the last one goes, so a reconnecting crowd does not churn Redis
and a mass disconnect costs one UNSUBSCRIBE per group, not per socket. The wait is long enough for a
crowd to come back: with 1 s, the benchmark's reconnect storm (10,000 shoppers dropping at once and
resuming over ~30 s) found most cells left and re-joined them, a tenth of the web process's CPU
(py-spy: each returning socket awaiting the join in flight for each of its cells). An empty cell
costs its events' arrival only: they are decoded once and offered to no socket. Each event arrives once per group
it was published to; the hub drops repeats by event id, builds the frame's shared part once
(``realtime.frames``) and walks only the sockets of the event's groups, each with an exact check.
Logins that end (logout, deactivation) are announced once to every process on the ``logins`` group.

Writes never wait on a client: daphne (and uvicorn) accept a frame into the socket's buffer at once.
The hub looks at that buffer before each write (``realtime.transport``) and closes a socket whose
unsent bytes pass ``REALTIME_MAX_UNSENT_BYTES`` with 4008; the client resumes from its cursor.

Pub/sub is lossy; ``realtime.repair`` delivers from the log what it lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.conf import settings

from realtime import metrics
from realtime.frames import LiveEvent
from realtime.groups import LOGINS_GROUP, session_login, user_login
from realtime.logins import recent_logins
from realtime.ratelimit import ACCOUNT_SUBSCRIBE_BURST, ACCOUNT_SUBSCRIBES_PER_SECOND, TokenBucket

if TYPE_CHECKING:
    from realtime.consumers import DealsConsumer

logger = logging.getLogger(__name__)

# An event published to several groups this process is in arrives once per group. Repeats are told
# by event id, not position: positions start over when the log does (a restored or emptied database).
RECENT_EVENTS = 32768
YIELD_EVERY = 200


class LiveHub:
    def __init__(self) -> None:
        self.consumers: set[DealsConsumer] = set()
        self.members: dict[str, set[DealsConsumer]] = {}
        self.by_login: dict[str, set[DealsConsumer]] = {}
        self.budgets: dict[int, TokenBucket] = {}
        self.joined: set[str] = set()
        self._ops: dict[str, asyncio.Task] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._channel: str | None = None
        self._layer = None
        self._tasks: list[asyncio.Task] = []
        self._starting: asyncio.Task | None = None
        self.tick = 0
        self.settled: tuple[int, int] = (0, 0)

    # Life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the process's layer channel and start receiving and repairing (once per process)."""
        if self._channel is not None:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._open())
        try:
            await asyncio.shield(self._starting)
        except Exception:
            # Redis was away: this socket fails (the page retries, then polls) and the next one
            # tries again; keeping the failed start would refuse every socket until a restart.
            self._starting = None
            raise

    async def _open(self) -> None:
        from realtime.repair import LogRepair, repair_loop

        repair = LogRepair(self)
        await repair.begin()
        self._layer = get_channel_layer()
        self._channel = await self._layer.new_channel(prefix="hub.")
        await self._join(LOGINS_GROUP)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._receive_loop()), loop.create_task(repair_loop(repair))]

    # Membership -------------------------------------------------------------------------------

    async def attach(self, consumer, logins: list[str], *, live: bool = True) -> None:
        """Register a socket under its login's names (user, session) before it is told anything.

        Logins are indexed here only: every process hears every login ending on the one ``logins``
        group, so a socket costs Redis no subscription of its own. ``live=False`` registers a socket
        for its login's end only (the staff dashboard's), not for deals.
        """
        await self.start()
        if live:
            self.consumers.add(consumer)
        for login in logins:
            self.by_login.setdefault(login, set()).add(consumer)
        consumer.logins = logins

    def detach(self, consumer: DealsConsumer) -> None:
        """Forget a socket however it ended (synchronous, so it runs even in a cancelled task)."""
        self.consumers.discard(consumer)
        for login in getattr(consumer, "logins", ()):
            recent_logins.touch(login)
            members = self.by_login.get(login)
            if members is not None:
                members.discard(consumer)
                if not members:
                    del self.by_login[login]
        user_id = getattr(consumer, "user_id", None)
        if user_id is not None and user_login(user_id) not in self.by_login:
            self.budgets.pop(user_id, None)
        self.remove(consumer, list(consumer.hub_groups))

    def over_socket_caps(self, scope) -> str | None:
        """Why this (attached) socket is one too many for its session or account, or None."""
        user_sockets = self.by_login.get(user_login(scope["user"].pk), ())
        if len(user_sockets) > settings.REALTIME_MAX_SOCKETS_PER_ACCOUNT:
            return f"This account already has {settings.REALTIME_MAX_SOCKETS_PER_ACCOUNT} live connections open."
        if scope.get("session_key"):
            session_sockets = self.by_login.get(session_login(scope["session_key"]), ())
            if len(session_sockets) > settings.REALTIME_MAX_SOCKETS_PER_SESSION:
                return f"This login already has {settings.REALTIME_MAX_SOCKETS_PER_SESSION} live connections open."
        return None

    def account_budget(self, user_id: int) -> TokenBucket:
        """The subscribe budget all of one account's sockets on this process share."""
        budget = self.budgets.get(user_id)
        if budget is None:
            budget = self.budgets[user_id] = TokenBucket(ACCOUNT_SUBSCRIBES_PER_SECOND, ACCOUNT_SUBSCRIBE_BURST)
        return budget

    async def add(self, consumer: DealsConsumer, groups: list[str]) -> None:
        for group in groups:
            self.members.setdefault(group, set()).add(consumer)
            consumer.hub_groups.add(group)
        await asyncio.gather(*(self._join(group) for group in groups if group not in self.joined))

    def remove(self, consumer: DealsConsumer, groups: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for group in groups:
            consumer.hub_groups.discard(group)
            members = self.members.get(group)
            if members is None:
                continue
            members.discard(consumer)
            if not members:
                del self.members[group]
                loop.call_later(settings.REALTIME_LEAVE_AFTER_SECONDS, self._leave_if_empty, group)

    async def _join(self, group: str) -> None:
        """Subscribe the process channel to ``group``, after any leave of it still in flight.

        A failure (Redis down) is logged and retried by the repair loop; meanwhile the log repair
        delivers the group's events.
        """
        for _ in range(3):
            if group in self.joined:
                return
            op = self._ops.get(group) or self._start_op(group, self._subscribe(group))
            try:
                await asyncio.shield(op)
            except Exception:  # noqa: BLE001 - logged; retried each repair tick
                logger.warning("could not subscribe to %s; the log repair covers it", group, exc_info=True)
                return

    async def _subscribe(self, group: str) -> None:
        await self._layer.group_add(group, self._channel)
        self.joined.add(group)
        if group == LOGINS_GROUP:
            recent_logins.hearing = True

    def _leave_if_empty(self, group: str) -> None:
        if group in self.members or group not in self.joined or group in self._ops:
            return
        self.joined.discard(group)
        self._start_op(group, self._unsubscribe(group))

    def _start_op(self, group: str, coro) -> asyncio.Task:
        """Run a subscribe or unsubscribe of ``group`` as the one operation in flight for it."""
        op = self._ops[group] = asyncio.ensure_future(coro)
        op.add_done_callback(lambda _: self._ops.pop(group) if self._ops.get(group) is op else None)
        return op

    async def _unsubscribe(self, group: str) -> None:
        try:
            await self._layer.group_discard(group, self._channel)
        except Exception:  # noqa: BLE001 - a stale subscription only costs messages we drop
            logger.warning("could not unsubscribe from %s", group, exc_info=True)

    async def rejoin_missing(self) -> None:
        """Join every group that has sockets but no subscription (after a failed join)."""
        wanted = [*self.members, LOGINS_GROUP]
        missing = [group for group in wanted if group not in self.joined and group not in self._ops]
        if missing:
            await asyncio.gather(*(self._join(group) for group in missing))

    # Repair bookkeeping (see ``realtime.repair``) ------------------------------------------------

    def received(self, event_id: str) -> bool:
        """Whether pub/sub brought this event to the process (recently)."""
        return event_id in self._recent

    def begin_tick(self) -> int:
        self.tick += 1
        return self.tick

    def settle(self, tick: int, through: int) -> None:
        """Every socket live all through ``tick`` has been offered every event up to ``through``."""
        self.settled = (tick, through)

    async def restart_log(self) -> None:
        """The log was replaced (restore): forget its positions and give every socket a fresh snapshot."""
        self.settled = (self.tick, 0)
        for consumer in list(self.consumers):
            await consumer.resync()

    def floor_for(self, live_since: int) -> int:
        """The position a socket that went live at tick ``live_since`` is settled through."""
        tick, through = self.settled
        return through if live_since < tick else 0

    # Delivery ---------------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self._layer.receive(self._channel)
                await self.handle(message)
                # The layer hands over queued messages without suspending; yielding between them
                # lets the servers flush sockets and answer HTTP requests during a burst.
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad message must not stop the process's fan-out
                logger.exception("live hub failed to handle a message")

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "deal.event":
            event_id = message["id"]
            if event_id in self._recent:
                return
            self._recent[event_id] = None
            if len(self._recent) > RECENT_EVENTS:
                self._recent.popitem(last=False)
            await self.fan_out(LiveEvent.from_message(message))
        elif kind == "session.ended":
            recent_logins.forget(message["login"])
            for consumer in list(self.by_login.get(message["login"], ())):
                await consumer.end_session()

    def targets(self, event: LiveEvent) -> set[DealsConsumer]:
        groups = [self.members[g] for g in event.groups if g in self.members]
        if len(groups) == 1:
            return groups[0]
        return set().union(*groups)

    async def fan_out(self, event: LiveEvent) -> int:
        """Offer one event to the sockets of its groups; returns how many were sent a frame."""
        targets = self.targets(event)
        if not targets:
            return 0
        limit = settings.REALTIME_MAX_UNSENT_BYTES
        sent = 0
        for consumer in list(targets):
            if consumer.pending is not None:
                consumer.hold(event)
                continue
            frame = consumer.frame_for(event)
            if frame is None:
                continue
            if consumer.outlet.over(limit):
                consumer.too_slow()
                continue
            if not consumer.outlet.write(frame):
                try:
                    await consumer.send_through_server(frame)
                except Exception:  # noqa: BLE001 - one socket's failed send must not cut the others' walk
                    logger.info("could not send to a socket (closing as the event came); it resumes from its cursor")
                    continue
            sent += 1
            if sent % YIELD_EVERY == 0:
                # A big area's fan-out is tens of milliseconds of writes; staff saves and page
                # requests on the same loop get their turn in between.
                await asyncio.sleep(0)
        metrics.dispatched.inc(len(targets))
        metrics.deliveries.inc(sent)
        return sent


hub = LiveHub()
# Counted from the hub's own set, so a socket that ended without its cleanup cannot leave it wrong.
metrics.connections.set_function(lambda: len(hub.consumers))
