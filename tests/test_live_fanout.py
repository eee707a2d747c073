"""The web process, not the socket, is the unit of subscription: real daphne, Redis and clients."""

from __future__ import annotations


import pytest
import redis
from django.conf import settings

from harness.shopper import session_cookie, stuck_socket
from harness.stack import metric, wait_for
from realtime.groups import cell_group
from realtime.subscriptions import Subscription
from tests.factories import BERLIN, MarketFactory, ShopperFactory, burst, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def group_channel(group: str) -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group}"


def subscribers(channels: list[str]) -> dict[str, int]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return {name.decode(): count for name, count in client.pubsub_numsub(*channels)}
    finally:
        client.close()


def test_many_sockets_in_one_area_cost_one_subscription_per_cell(stack, connect_shopper):
    # given the groups of a 5 km area around the shoppers' saved home (on the 52.52 parallel)
    home_cells = sorted(Subscription.build(lat=BERLIN[0], lng=BERLIN[1], radius_km=5).cells)
    channels = [group_channel(cell_group(cell)) for cell in home_cells]
    far_lat, far_lng = offset_km(*BERLIN, north_km=60)
    far_cells = set(Subscription.build(lat=far_lat, lng=far_lng, radius_km=5).cells) - set(home_cells)
    far_channels = [group_channel(cell_group(cell)) for cell in far_cells]
    assert all(count == 0 for count in subscribers(far_channels).values())
    # when twenty shoppers there connect to one web process
    sockets = [connect_shopper(ShopperFactory()) for _ in range(20)]
    for sock in sockets:
        sock.next("snapshot")
    # then each cell's group has exactly one subscriber in Redis: the process
    assert set(subscribers(channels).values()) == {1}
    # and a shopper somewhere else adds that area's cells (the positive control)
    elsewhere = connect_shopper(ShopperFactory(home_lat=far_lat, home_lng=far_lng))
    elsewhere.next("snapshot")
    assert set(subscribers(far_channels).values()) == {1}
    # when they all leave, the process leaves each group about a second later: once per cell
    for sock in [*sockets, elsewhere]:
        sock.close()
    assert wait_for(lambda: set(subscribers(channels + far_channels).values()) == {0}, timeout=10)


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_shopper_who_stops_reading_is_cut_loose_and_the_others_get_everything(stack, connect_shopper, server):
    # given a web process (under each server the hub knows) with the default bound of unsent bytes
    market = MarketFactory(name="Near", lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    port = stack.start_web(server=server)
    web = len(stack.webs) - 1
    try:
        reader = connect_shopper(ShopperFactory(), web=web)
        reader.next("snapshot")
        stuck = stuck_socket(port, session_cookie(ShopperFactory()))
        assert wait_for(lambda: metric(port, "dealcast_socket_connections") == 2)
        closes_before = metric(port, "dealcast_slow_client_closes_total")
        # when a burst of 1,000 deals (~800 KB of frames) goes out
        burst(market, 1000)
        # then the reader gets every one of them, once
        ids = []
        while len(ids) < 1000:
            ids.append(reader.next("event", timeout=20)["event"]["data"]["id"])
        assert len(set(ids)) == 1000
        # and the socket that never read was closed as too slow, and the process let go of it
        assert metric(port, "dealcast_slow_client_closes_total") == closes_before + 1
        assert wait_for(lambda: metric(port, "dealcast_socket_connections") == 1, timeout=15)
        stuck.close()
    finally:
        stack.stop_web(web)
