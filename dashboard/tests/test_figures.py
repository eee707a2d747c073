import pytest
from rest_framework.test import APIClient

from discounts.permissions import market_staff_group
from tests.factories import MarketFactory, ShopperFactory, UserFactory, create_deal

pytestmark = pytest.mark.django_db


def test_staff_dashboard_figures_for_their_market_only():
    mine, theirs = MarketFactory(name="Mine"), MarketFactory(name="Theirs")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    mine.staff.add(staff)
    create_deal(market=mine, product="Milk", price="0.90", original_price="1.00")
    create_deal(market=theirs, product="Milk", price="0.50", original_price="1.00")
    create_deal(market=theirs, product="Bread")
    api = APIClient()
    api.force_login(staff)
    body = api.get("/api/staff/dashboard/").json()
    assert [m["name"] for m in body["markets"]] == ["Mine"]
    assert [(d["product"], d["reached"]) for d in body["active"]] == [("Milk", 0)]
    assert sum(w["published"] for w in body["published_last_hour"]) == 1
    assert len(body["published_last_hour"]) == 12
    milk = body["comparisons"][0]
    assert milk["your_price_rank"] == 2 and milk["cheapest_price"] == "0.50"
    assert [t["market"] for t in milk["top"]] == ["Theirs", "Mine"]


def test_the_rank_counts_markets_not_deals_and_the_list_follows_the_same_rule():
    mine, second, third = MarketFactory(name="Mine"), MarketFactory(name="Second"), MarketFactory(name="Third")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    mine.staff.add(staff)
    create_deal(market=mine, product="Oat milk", price="1.50", original_price="2.00")
    # another market lists the product three times, all cheaper than mine
    for price in ("1.10", "1.20", "1.30"):
        create_deal(market=second, product="Oat milk", price=price, original_price="2.00")
    # a third has the biggest % off but a dearer price
    create_deal(market=third, product="Oat milk", price="1.90", original_price="5.00")
    api = APIClient()
    api.force_login(staff)
    milk = api.get("/api/staff/dashboard/").json()["comparisons"][0]
    # three markets; mine is second by cheapest offer (never "#4 of 3")
    assert milk["markets_with_it"] == 3
    assert milk["your_price_rank"] == 2
    assert [t["market"] for t in milk["top"]] == ["Second", "Mine", "Third"]


def test_shoppers_cannot_see_the_dashboard(client):
    shopper = ShopperFactory()
    api = APIClient()
    api.force_login(shopper)
    assert api.get("/api/staff/dashboard/").status_code == 403
    client.force_login(shopper)
    assert client.get("/staff/").status_code == 302
