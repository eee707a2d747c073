"""The deals socket and the process hub, driven through Channels' communicator over the real Redis
layer and database (no daphne): fast checks of the consumer's protocol beside tests/test_live_*.py."""

import asyncio
import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from redis.asyncio import Redis

from config.asgi import application
from harness.loops import run_on_own_loop
from realtime import hub as hub_module, relay
from tests.factories import BERLIN, MarketFactory, ShopperFactory, create_deal, offset_km

pytestmark = pytest.mark.django_db(transaction=True)


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket(WebsocketCommunicator):
    """Channels' communicator, with the app's database calls returning their connections as under daphne.

    Channels' communicator makes ``close_old_connections`` a no-op while it sends or receives (for
    tests inside one transaction). These tests commit for real, and with the no-op each
    ``database_sync_to_async`` call kept its pooled connection after its thread (the loop's executor)
    ended: about one per socket, so the suite's process ran out of its pool of 16 by test_relay.
    """

    async def send_input(self, message):
        return await ApplicationCommunicator.send_input(self, message)

    async def receive_output(self, timeout=1):
        return await ApplicationCommunicator.receive_output(self, timeout)


def socket(session: str, path: str = "/ws/deals/") -> WebsocketCommunicator:
    return Socket(application, path, headers=[
        (b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"), (b"cookie", f"sessionid={session}".encode()),
    ])


async def frame(ws: WebsocketCommunicator, timeout: float = 5) -> dict:
    return json.loads(await ws.receive_from(timeout=timeout))


@database_sync_to_async
def publish_deal(km_north: float, product: str):
    deal = create_deal(market=MarketFactory(lat=offset_km(*BERLIN, north_km=km_north)[0], lng=BERLIN[1]), product=product)
    relay.relay_pending()
    return deal


async def redis_subscribers(groups: set[str]) -> dict[str, int]:
    """Redis's own count of subscribers to each group's pub/sub channel."""
    client = Redis.from_url(settings.REDIS_URL)
    try:
        channels = {name.decode(): name for name in await client.pubsub_channels()}
        counts = {}
        for group in groups:
            names = [raw for name, raw in channels.items() if name.endswith(group)]
            counts[group] = sum(n for _, n in await client.pubsub_numsub(*names)) if names else 0
        return counts
    finally:
        await client.aclose()


def _pooled_connections_in_use() -> int:
    stats = connection.pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


def run(coro):
    async def with_cleanup():
        try:
            await coro
        finally:
            for task in hub_module.hub._tasks:
                task.cancel()

    in_use = _pooled_connections_in_use()
    run_on_own_loop(with_cleanup())
    assert _pooled_connections_in_use() <= in_use, "the sockets' database calls kept pooled connections"


def test_a_shopper_gets_a_snapshot_then_the_deals_published_in_their_area_only(live):
    session = _session(ShopperFactory())

    async def scenario():
        ws = socket(session)
        connected, _ = await ws.connect()
        assert connected
        snapshot = await frame(ws)
        assert snapshot["type"] == "snapshot" and snapshot["deals"] == []
        # just past the 5 km radius (inside a cell the area's cover shares) and in another city
        await publish_deal(5.4, "Milk just too far")
        await publish_deal(40, "Milk in another city")
        await publish_deal(1, "Near milk")
        event = await frame(ws)
        assert event["type"] == "event" and event["event"]["data"]["product"] == "Near milk"
        assert 0.9 < event["distance_km"] < 1.1 and event["cursor"]
        assert await ws.receive_nothing(timeout=0.5)  # the far deals never came
        await ws.disconnect()

    run(scenario())


def test_a_bad_frame_gets_an_error_frame_and_the_socket_keeps_working(live):
    session = _session(ShopperFactory())

    async def scenario():
        ws = socket(session)
        await ws.connect()
        await frame(ws)
        await ws.send_to(text_data="{not json")
        assert (await frame(ws))["code"] == "bad_json"
        await ws.send_to(text_data=json.dumps({"type": "subscribe", "lat": 91, "lng": 0, "radius_km": 2}))
        assert (await frame(ws))["code"] == "invalid_subscription"
        await ws.send_to(text_data=json.dumps({"type": "subscribe", "lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 2}))
        assert (await frame(ws))["type"] == "snapshot"
        await ws.disconnect()

    run(scenario())


def test_a_socket_never_queues_on_channels_database_thread(live, monkeypatch):
    """Channels hops to its shared database thread before each handler unless the consumer opts out."""
    import channels.consumer
    import channels.generic.websocket

    hops = []

    async def counted():
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    monkeypatch.setattr(channels.generic.websocket, "aclose_old_connections", counted)
    session = _session(ShopperFactory())

    async def scenario():
        # Positive control: a stock consumer (the one refusing unknown paths) hops.
        stock = socket(session, "/ws/nowhere/")
        assert not (await stock.connect())[0]
        assert hops
        hops.clear()
        ws = socket(session)
        assert (await ws.connect())[0]
        await frame(ws)
        await ws.send_to(text_data=json.dumps({"type": "subscribe", "lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 2}))
        assert (await frame(ws))["type"] == "snapshot"
        await ws.disconnect()
        assert hops == []

    run(scenario())


def test_a_resume_from_a_cursor_replays_exactly_what_was_missed(live):
    session = _session(ShopperFactory())

    async def scenario():
        first = socket(session)
        await first.connect()
        cursor = (await frame(first))["cursor"]
        await first.disconnect()
        await publish_deal(1, "Missed while away")
        lat, lng = BERLIN
        back = socket(session, f"/ws/deals/?lat={lat}&lng={lng}&radius_km=5&after={cursor}")
        await back.connect()
        replayed = await frame(back)
        assert replayed["type"] == "event" and replayed["event"]["data"]["product"] == "Missed while away"
        assert await back.receive_nothing(timeout=0.5)  # no snapshot, no repeat
        await back.disconnect()

    run(scenario())


def test_the_process_subscribes_once_per_cell_and_leaves_after_the_last_socket(live, settings):
    settings.REALTIME_LEAVE_AFTER_SECONDS = 1.0
    sessions = [_session(ShopperFactory()) for _ in range(3)]

    async def scenario():
        sockets = [socket(s) for s in sessions]
        for ws in sockets:
            await ws.connect()
            await frame(ws)
        groups = set(live.members)
        assert groups and all(len(live.members[g]) == 3 for g in groups)  # three sockets share each cell
        assert await redis_subscribers(groups) == {g: 1 for g in groups}  # Redis sees the process once
        for ws in sockets[:2]:
            await ws.disconnect()
        await asyncio.sleep(settings.REALTIME_LEAVE_AFTER_SECONDS + 0.5)
        assert await redis_subscribers(groups) == {g: 1 for g in groups}  # one socket still needs them
        await sockets[2].disconnect()
        await asyncio.sleep(settings.REALTIME_LEAVE_AFTER_SECONDS + 0.5)
        assert await redis_subscribers(groups) == {g: 0 for g in groups} and not live.members

    run(scenario())
