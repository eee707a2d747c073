"""A page and an API address for every deal and every market, open to visitors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from discounts import services
from discounts.models import Discount
from tests.factories import BERLIN, MarketFactory, create_deal, offset_km

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_one_deal_over_the_api_and_410_once_it_ended_or_was_withdrawn(api):
    deal = create_deal(product="Oat milk 1L", price=Decimal("0.99"), original_price=Decimal("1.49"))
    live = api.get(f"/api/deals/{deal.pk}/")
    assert live.status_code == 200
    assert (live.json()["product"], live.json()["price"], live.json()["market"]["id"]) == ("Oat milk 1L", "0.99", deal.market_id)
    # when staff withdraw it, the API says so with 410 and no price
    services.discount_withdraw(discount=deal)
    gone = api.get(f"/api/deals/{deal.pk}/")
    assert gone.status_code == 410 and gone.json()["detail"] == "The market withdrew this deal."
    assert "price" not in gone.json()
    # one whose end passed (before the schedule got to it) is gone too
    ended = create_deal(product="Bread")
    Discount.objects.filter(pk=ended.pk).update(
        starts_at=timezone.now() - timedelta(hours=2), ends_at=timezone.now() - timedelta(minutes=1)
    )
    response = api.get(f"/api/deals/{ended.pk}/")
    assert response.status_code == 410 and response.json()["detail"] == "This deal has ended."
    assert response.json()["ended_at"] is not None
    assert api.get("/api/deals/999999/").status_code == 404


def test_markets_near_a_point_nearest_first_with_their_deals_counted(api):
    near = MarketFactory(name="Near", lat=BERLIN[0], lng=BERLIN[1])
    far = MarketFactory(name="Far", lat=offset_km(*BERLIN, north_km=8)[0], lng=BERLIN[1])
    MarketFactory(name="Out of reach", lat=offset_km(*BERLIN, north_km=30)[0], lng=BERLIN[1])
    create_deal(market=near, product="Apples")
    create_deal(market=near, product="Pears")
    withdrawn = create_deal(market=far, product="Plums")
    services.discount_withdraw(discount=withdrawn)
    body = api.get("/api/markets/", {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 10}).json()
    assert body["count"] == 2
    assert [(m["name"], m["active_deals"]) for m in body["results"]] == [("Near", 2), ("Far", 0)]
    assert body["results"][1]["distance_km"] == pytest.approx(8, abs=0.1)
    # without a point: every market, by name
    assert [m["name"] for m in api.get("/api/markets/").json()["results"]] == ["Far", "Near", "Out of reach"]
    assert api.get("/api/markets/", {"lat": 200, "lng": 0}).status_code == 400
    # one market with its active deals, the soonest to end first
    detail = api.get(f"/api/markets/{near.pk}/").json()
    assert detail["name"] == "Near" and [d["product"] for d in detail["deals"]] == ["Apples", "Pears"]
    assert api.get("/api/markets/999999/").status_code == 404


def test_the_schema_has_the_new_addresses():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/deals/{id}/", "/api/markets/", "/api/markets/{id}/"} <= set(schema["paths"])


def test_a_visitor_opens_a_deals_page_with_its_market_and_other_prices(client):
    market = MarketFactory(name="Corner market", address="Kastanienallee 1, Berlin")
    deal = create_deal(market=market, product="Oat milk 1L", price=Decimal("0.99"), original_price=Decimal("1.49"))
    other = create_deal(market=MarketFactory(name="Big market"), product="oat milk 1l", price=Decimal("1.19"))
    create_deal(market=market, product="Goat cheese 150g")
    page = client.get(f"/deals/{deal.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Oat milk 1L" in html and "0.99 EUR" in html and "1.49 EUR" in html and "−34%" in html
    assert f'href="/markets/{market.pk}/"' in html and "Kastanienallee 1, Berlin" in html and "openstreetmap.org/directions" in html
    # the same product elsewhere, linked to its own page; not other products
    assert f'href="/deals/{other.pk}/"' in html and "Big market" in html and "Goat cheese" not in html
    # a shared link previews: Open Graph tags with the price and an absolute address
    assert '<meta property="og:title" content="Oat milk 1L for 0.99 EUR (−34%)">' in html
    assert f'<meta property="og:url" content="http://127.0.0.1:8000/deals/{deal.pk}/">' in html


def test_an_ended_deals_page_says_so_without_the_old_price(client):
    deal = create_deal(product="Oat milk 1L", price=Decimal("0.77"), original_price=Decimal("1.49"))
    services.discount_withdraw(discount=deal)
    page = client.get(f"/deals/{deal.pk}/")
    html = page.content.decode()
    assert page.status_code == 410 and "The market withdrew this deal." in html
    assert "0.77" not in html and "noindex" in html
    assert client.get("/deals/999999/").status_code == 404


def test_a_markets_page_lists_its_deals_the_soonest_to_end_first(client):
    market = MarketFactory(name="Corner market")
    later = create_deal(market=market, product="Apples", ends_at=timezone.now() + timedelta(days=3))
    sooner = create_deal(market=market, product="Pears", ends_at=timezone.now() + timedelta(hours=2))
    page = client.get(f"/markets/{market.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Corner market" in html
    assert html.index(f'href="/deals/{sooner.pk}/"') < html.index(f'href="/deals/{later.pk}/"')
    assert client.get("/markets/999999/").status_code == 404
