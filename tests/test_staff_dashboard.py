"""A market's staff watch their dashboard update live as their deal is published and reaches shoppers."""

import re

import pytest
from playwright.sync_api import expect

from discounts.permissions import market_staff_group
from tests.browser import log_in
from tests.factories import MarketFactory, ShopperFactory, UserFactory, create_deal

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_shows_a_new_deal_and_the_shoppers_it_reached(stack, new_page, connect_shopper):
    market = MarketFactory(name="Corner market")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market.staff.add(staff)
    shoppers = [connect_shopper(ShopperFactory()) for _ in range(2)]
    for sock in shoppers:
        sock.next("snapshot")
    page = new_page()
    log_in(page, stack.base_url, staff.username, next_path="/staff/")
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10000)
    expect(page.locator("#active tr")).to_have_count(0)
    # when staff publish a deal that two shoppers nearby receive
    deal = create_deal(market=market, product="Plums 1kg")
    for sock in shoppers:
        sock.next("event")
    # then, without reload, the dashboard lists it with both shoppers reached and charts it
    row = page.locator(f'#active tr[data-deal-id="{deal.pk}"]')
    expect(row).to_contain_text("Plums 1kg", timeout=5000)
    expect(row.locator("td").last).to_have_text("2", timeout=5000)
    expect(page.locator("#published-chart rect")).to_have_count(12)
    # the charts have a time axis (every third 5-minute window named, so the times never overlap) and units
    expect(page.locator("#published-chart text.axis")).to_have_count(4)
    expect(page.locator("#published-chart text.axis").first).to_have_text(re.compile(r"^\d{1,2}:\d\d( [AP]M)?$"))
    expect(page.locator("#published-chart text.unit")).to_have_text(re.compile(r"^\d+ deals?$"))
    expect(page.locator("#reach-chart text.unit")).to_have_text("2 shoppers")
    expect(page.locator("#comparisons")).to_contain_text("Your price ranks #1")
    assert page.errors == []


def staff_page_with_a_deal(stack, new_page, *, market_name: str, product: str, viewport: dict, path: str):
    """A market's staff member, one deal of theirs, and their page at ``path`` in a browser of that size."""
    market = MarketFactory(name=market_name)
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market.staff.add(staff)
    create_deal(market=market, product=product)
    page = new_page(viewport=viewport)
    log_in(page, stack.base_url, staff.username, next_path=path)
    return page


def test_the_dashboard_fits_a_phone(stack, new_page):
    page = staff_page_with_a_deal(
        stack, new_page, market_name="Corner market", product="A product with a rather long name 1kg",
        viewport={"width": 390, "height": 844}, path="/staff/",
    )
    expect(page.locator("#active tr")).to_have_count(1, timeout=10000)
    # nothing makes the page wider than the phone (tables scroll inside their own box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_admin_deal_list_fits_a_laptop_screen(stack, new_page):
    page = staff_page_with_a_deal(
        stack, new_page, market_name="Frischmarkt Prenzlauer Berg", product="Laundry detergent 20 loads",
        viewport={"width": 1366, "height": 800}, path="/admin/discounts/discount/",
    )
    expect(page.locator("#result_list")).to_contain_text("Laundry detergent 20 loads")
    expect(page.locator("#result_list")).to_contain_text("Live")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_a_shopper_counts_once_their_page_showed_the_deal_however_it_got_there(stack, connect_shopper):
    import time

    import httpx

    from harness.shopper import session_cookie

    # given a market's deal that is already live before any shopper opens their page
    market = MarketFactory(name="Corner market")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market.staff.add(staff)
    deal = create_deal(market=market, product="Plums 1kg")
    dashboard = httpx.Client(base_url=stack.base_url, cookies={"sessionid": session_cookie(staff)})

    def reached(expected: int) -> int | None:
        deadline = time.monotonic() + 10
        while True:
            row = next(d for d in dashboard.get("/api/staff/dashboard/").json()["active"] if d["id"] == deal.pk)
            if row["reached"] == expected or time.monotonic() > deadline:
                return row["reached"]
            time.sleep(0.2)

    assert reached(0) == 0  # positive control: nobody has seen it yet
    # when a shopper opens the live page, the deal comes in the socket's snapshot
    first = ShopperFactory()
    connect_shopper(first).next("snapshot")
    assert reached(1) == 1
    # and opening it again (another snapshot) does not count them twice
    connect_shopper(first).next("snapshot")
    time.sleep(1.5)  # past the web process's flush
    assert reached(1) == 1
    # a shopper whose browser can only poll starts its page with the changes feed: counted too
    polling = ShopperFactory()
    started = httpx.get(
        f"{stack.base_url}/api/deals/changes/", params={"lat": market.lat, "lng": market.lng, "radius_km": 5},
        cookies={"sessionid": session_cookie(polling)},
    )
    assert started.status_code == 200
    assert reached(2) == 2
