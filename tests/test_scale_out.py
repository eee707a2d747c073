"""Two web processes and two workers: every shopper gets exactly its deals, even when a web process dies."""

from __future__ import annotations

import random
import time

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from demo.seeding import seed_demo_city
from discounts.services import discount_create
from eventlog.selectors import log_bounds
from harness.client import Area, LiveClient
from harness.verify import tally_clients, wait_drained
from tests.factories import deal_fields

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def publish_via(base_url: str, token: str, market_id: int, product: str) -> None:
    import json
    import urllib.request

    body = json.dumps({"market": market_id, "product": product, "category": "produce", "original_price": "3.00",
                       "price": "2.00", "ends_at": "2099-01-01T00:00:00Z"}).encode()
    request = urllib.request.Request(f"{base_url}/api/discounts/", data=body, method="POST", headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_two_web_processes_and_two_workers_deliver_everything(stack):
    from accounts.models import User
    from demo.seeding import CITY_CENTER
    from markets.models import Market

    # given the demo city, a second web process and a second worker
    seed_demo_city()
    second_port = stack.start_web()
    second_worker = stack.start_worker()
    urls = [stack.ws_url(0), stack.ws_url(len(stack.webs) - 1)]
    rng = random.Random(6)
    wait_drained(settle_s=1.5)
    start = log_bounds()[0]
    clients = []
    try:
        # and twelve shoppers spread over both web processes
        for index in range(12):
            user = User.objects.create(username=f"spread-{index}")
            browser = Client()
            browser.force_login(user)
            area = Area(CITY_CENTER[0] + rng.uniform(-0.08, 0.08), CITY_CENTER[1] + rng.uniform(-0.12, 0.12), rng.choice([3, 6, 12]))
            order = urls if index % 2 == 0 else urls[::-1]
            clients.append(LiveClient(order, browser.cookies["sessionid"].value, area).start())
        while any(c.first_cursor is None for c in clients):
            time.sleep(0.05)
        # when staff publish through both web processes
        staff = User.objects.get(username="staff01")
        token = Token.objects.get_or_create(user=staff)[0].key
        market = Market.objects.get(staff=staff)
        bases = [stack.base_url, f"http://127.0.0.1:{second_port}"]
        for i in range(10):
            publish_via(bases[i % 2], token, market.pk, f"Spread {i}")
        # and the second web process dies with its shoppers connected
        stack.stop_web(len(stack.webs) - 1)
        for i in range(10, 20):
            publish_via(bases[0], token, market.pk, f"Spread {i}")
        for other in Market.objects.exclude(pk=market.pk).order_by("?")[:5]:
            for i in range(4):
                discount_create(**deal_fields(market=other, product=f"Elsewhere {other.pk}-{i}"))
        wait_drained(settle_s=1.5)
        # then every shopper got exactly the events in its area, and shows what a fresh fetch shows
        tally = tally_clients("two_web_processes", clients, after=start)
        assert tally.sent >= 40
        assert tally.expected > 0 and tally.delivered == tally.expected
        assert tally.lost == 0 and tally.out_of_order == 0 and tally.view_mismatches == 0, tally
        moved = [c for c in clients if c.connects > 1]
        assert moved, "the shoppers of the dead web process reconnect to the other one"
    finally:
        for client in clients:
            client.stop()
        stack.kill(second_worker)
        stack.workers.remove(second_worker)
