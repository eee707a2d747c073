"""Redis is a cache and a pub/sub bus, PostgreSQL the record: with Redis away, nobody's work stops."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from websockets.exceptions import WebSocketException

from harness.proxy import FaultProxy
from localdev.embedded import free_port
from tests.factories import (
    BERLIN, TEST_PASSWORD, CategoryFactory, MarketFactory, ShopperFactory, UserFactory, create_deal, offset_km,
)

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 8.0


@pytest.fixture
def web_behind_redis_proxy(stack):
    """A web process whose Redis (cache, layer, Celery wake-ups) is reached through a proxy the test cuts."""
    redis_url = urlsplit(settings.REDIS_URL)
    proxy = FaultProxy(redis_url.port or 6379, free_port())
    proxied = urlunsplit(redis_url._replace(netloc=f"{redis_url.hostname}:{proxy.port}"))
    port = stack.start_web(extra_env={"REDIS_URL": proxied})
    yield proxy, len(stack.webs) - 1, f"http://127.0.0.1:{port}"
    stack.stop_web(len(stack.webs) - 1)


def test_with_redis_away_staff_publish_shoppers_read_and_log_in_then_live_catches_up(
    connect_shopper, web_behind_redis_proxy
):
    proxy, web, base = web_behind_redis_proxy
    lat, lng = offset_km(*BERLIN, north_km=1)
    market = MarketFactory(lat=lat, lng=lng)
    CategoryFactory(slug="produce")
    staff = UserFactory(is_staff=True)
    market.staff.add(staff)
    token = Token.objects.create(user=staff).key
    shopper = ShopperFactory(username="outage-shopper")
    sock = connect_shopper(shopper, web=web)
    assert sock.next("snapshot")["deals"] == []
    staff_api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10)
    # positive control: the proxied web process answers through Redis before the outage
    assert staff_api.get("/api/deals/").status_code == 200

    # when Redis goes away for this web process
    proxy.cut(OUTAGE_SECONDS)
    cut_at = time.monotonic()
    statuses = {}
    # then staff publish through the API
    published = []
    for i in range(5):
        response = staff_api.post("/api/discounts/", json={
            "market": market.pk, "product": f"Outage apples {i}", "category": "produce",
            "original_price": "3.00", "price": "2.00", "ends_at": "2099-01-01T00:00:00Z",
        })
        statuses[f"publish {i}"] = response.status_code
        if response.status_code == 201:
            published.append(response.json()["id"])
    # and shoppers read deals, log in and poll the changes feed
    statuses["deals"] = staff_api.get("/api/deals/", params={"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}).status_code
    browser = httpx.Client(base_url=base, timeout=10)
    browser.get("/accounts/login/")
    login = browser.post(
        "/accounts/login/", data={"username": "outage-shopper", "password": TEST_PASSWORD,
                                  "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    statuses["login"] = login.status_code
    statuses["changes"] = browser.get(
        "/api/deals/changes/", params={"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}
    ).status_code
    statuses["readyz"] = staff_api.get("/readyz").status_code
    assert time.monotonic() - cut_at < OUTAGE_SECONDS, "the requests ran while Redis was away"
    assert statuses == {
        **{f"publish {i}": 201 for i in range(5)}, "deals": 200, "login": 302, "changes": 200, "readyz": 503,
    }

    # and once Redis is back, the connected shopper gets every deal published meanwhile
    received = []
    deadline = time.monotonic() + OUTAGE_SECONDS + 15
    while len(received) < len(published):
        try:
            frame = sock.next("event", timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        received.append(frame["event"]["data"]["id"])
    assert sorted(received) == sorted(published)


def test_a_web_process_whose_first_socket_came_during_the_outage_serves_sockets_once_redis_is_back(
    connect_shopper, web_behind_redis_proxy
):
    proxy, web, _ = web_behind_redis_proxy
    shopper = ShopperFactory()
    # given Redis away when the web process's first socket arrives
    proxy.cut(3.0)
    with pytest.raises((TimeoutError, WebSocketException)):
        connect_shopper(shopper, web=web).next("snapshot", timeout=2)
    time.sleep(1.5)
    # when Redis is back, then the next socket is served, live
    sock = connect_shopper(shopper, web=web)
    assert sock.next("snapshot", timeout=10)["deals"] == []
    lat, lng = offset_km(*BERLIN, north_km=1)
    deal = create_deal(market=MarketFactory(lat=lat, lng=lng))
    assert sock.next("event", timeout=10)["event"]["data"]["id"] == deal.pk
