"""Notifications with the page closed, through the real stack: the relay, the notifier's own worker,
a push service run by the test, and the service worker in real Chromium."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from discounts import services
from notifications.models import Notification
from tests.browser import both_viewports, log_in
from tests.factories import ShopperFactory, create_deal
from harness.push_service import PushService, subscribe

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.stop()


def test_a_shopper_with_every_tab_closed_gets_one_push_per_deal_nearby(stack, push_service):
    # given a shopper who opted in on two browsers and has no page open
    shopper = ShopperFactory()
    for name in ("phone", "laptop"):
        subscribe(shopper, push_service.browser(name))
    # when a market nearby publishes a deal, then cuts its price
    deal = create_deal(product="Cherries 500g")
    # then both browsers get the push, signed by the site and readable by them alone
    arrived = push_service.wait_for(2)
    assert {r.browser for r in arrived} == {"phone", "laptop"}
    assert arrived[0].message["title"] == "New deal: Cherries 500g 1.99 EUR (−34%)"
    assert arrived[0].message["url"] == f"/deals/{deal.pk}/"
    services.discount_update(discount=deal, price="1.49")
    drops = push_service.wait_for(4)[2:]
    assert {r.message["title"] for r in drops} == {"Price drop: Cherries 500g 1.99 → 1.49 EUR"}
    # and nothing arrives twice (the sweep runs every half second meanwhile)
    time.sleep(2)
    assert len(push_service.received) == 4 and push_service.rejected == []
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def deliver_push(page, base_url: str, message: dict) -> None:
    """Hand the page's service worker a push message through the DevTools protocol, as a push service would."""
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    [registration] = [r for r in registrations if r["scopeURL"] == base_url + "/" and not r["isDeleted"]]
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": base_url, "registrationId": registration["registrationId"], "data": json.dumps(message),
    })


SHOWN = """() => navigator.serviceWorker.ready
  .then(r => r.getNotifications())
  .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))"""


@pytest.mark.browser
@both_viewports
def test_the_service_worker_shows_the_push_and_it_opens_the_deal(stack, new_page, viewport):
    deal = create_deal(product="Plums 1kg")
    create_deal(product="Pears 1kg")
    shopper = ShopperFactory()
    page = new_page(viewport=viewport, permissions=["notifications"])
    log_in(page, stack.base_url, shopper.username, next_path="/notifications/")
    # the page offers push on this browser once its service worker is registered
    expect(page.locator("#push-toggle")).to_have_text("Turn on for this browser", timeout=10000)
    assert page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)") == stack.base_url + "/"
    # positive control: nothing shown yet
    assert page.evaluate(SHOWN) == []
    # when a push for the deal arrives (the browser closed or not: the service worker handles it)
    message = {"title": "New deal: Plums 1kg 1.99 EUR (−34%)", "body": "Market 0 · 0.0 km away", "url": f"/deals/{deal.pk}/", "tag": "n-1"}
    deliver_push(page, stack.base_url, message)
    page.wait_for_function("() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.length === 1)")
    # then the system notification says what the push said, and the same push again does not show twice
    deliver_push(page, stack.base_url, message)
    page.wait_for_timeout(500)
    assert page.evaluate(SHOWN) == [{k: message[k] for k in ("title", "body", "tag", "url")}]
    # and the page it opens is that deal's own page
    page.goto(stack.base_url + message["url"])
    expect(page.get_by_role("heading", name="Plums 1kg", exact=True)).to_be_visible()
    expect(page.locator(".deal-price .price")).to_have_text("1.99 EUR")
    # the live page still opens a deal chosen among the others from an older notification's address
    page.goto(f"{stack.base_url}/?deal={deal.pk}")
    card = page.locator(f'li.deal[data-deal-id="{deal.pk}"]')
    expect(card).to_have_class("deal selected opened", timeout=10000)
    expect(card).to_be_in_viewport()
    expect(page.locator("li.deal")).to_have_count(2)
    assert page.errors == []
