"""A market's staff watch their dashboard update live as their deal is published and reaches shoppers."""

import pytest
from playwright.sync_api import expect

from discounts.demo import market_staff_group
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
    expect(page.locator("#comparisons")).to_contain_text("Your price ranks #1")
    assert page.errors == []
