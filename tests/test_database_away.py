"""With its database out of reach, a web process answers 503 with a message, and serves again after."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from harness.proxy import FaultProxy
from harness.shopper import session_cookie
from localdev.embedded import free_port
from tests.factories import BERLIN, MarketFactory, ShopperFactory, create_deal, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 8.0


@pytest.fixture
def web_behind_database_proxy(stack):
    """A web process that reaches PostgreSQL through a proxy the test cuts, waiting 1 s for a connection."""
    url = urlsplit(stack.env["DATABASE_URL"])  # the test database
    proxy = FaultProxy(url.port or 5432, free_port())
    proxied = urlunsplit(url._replace(netloc=url.netloc.replace(f":{url.port}", f":{proxy.port}")))
    port = stack.start_web(extra_env={"DATABASE_URL": proxied, "DB_POOL_TIMEOUT_SECONDS": "1"})
    yield proxy, f"http://127.0.0.1:{port}"
    stack.stop_web(len(stack.webs) - 1)


def test_with_the_database_away_requests_are_told_to_retry_and_are_served_once_it_is_back(web_behind_database_proxy):
    proxy, base = web_behind_database_proxy
    deal = create_deal(market=MarketFactory(lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1]), product="Plums")
    client = httpx.Client(base_url=base, timeout=15, cookies={"sessionid": session_cookie(ShopperFactory())})
    area = {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}
    # positive control: through the proxy, both answer from the database
    assert [d["id"] for d in client.get("/api/deals/", params=area).json()["results"]] == [deal.pk]
    assert client.get("/search/", params={"q": "Plums"}).status_code == 200

    # when the database goes out of reach
    proxy.cut(OUTAGE_SECONDS)
    cut_at = time.monotonic()
    api = client.get("/api/deals/", params=area)
    page = client.get("/search/", params={"q": "Plums"})
    assert time.monotonic() - cut_at < OUTAGE_SECONDS, "the requests ran while the database was away"

    # then the API and the pages say to try again, with when, instead of a server error
    assert (api.status_code, page.status_code) == (503, 503)
    assert "Try again" in api.json()["detail"]
    assert "Try again" in page.text
    assert api.headers["Retry-After"] == page.headers["Retry-After"] == "5"

    # and once it is back, the same request is served
    deadline = time.monotonic() + OUTAGE_SECONDS + 15
    while (response := client.get("/api/deals/", params=area)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [d["id"] for d in response.json()["results"]] == [deal.pk]
