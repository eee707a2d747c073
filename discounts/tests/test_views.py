from decimal import Decimal

import pytest

from tests.factories import BERLIN, MarketFactory, ShopperFactory, create_deal, offset_km

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper_client(client):
    client.force_login(ShopperFactory())
    return client


def test_search_compares_a_product_across_markets_cheapest_first(shopper_client):
    near = MarketFactory(name="Corner shop")
    far = MarketFactory(name="Hypermarket", lat=offset_km(*BERLIN, north_km=8)[0])
    create_deal(market=near, product="Oat milk", price=Decimal("1.80"), original_price=Decimal("2.00"))
    create_deal(market=far, product="Oat milk", price=Decimal("0.90"), original_price=Decimal("2.00"))
    create_deal(market=near, product="Bread")
    page = shopper_client.get("/search/", {"q": "oat"})
    assert page.status_code == 200
    compare = list(page.context["compare"])
    assert [d.market.name for d in compare] == ["Hypermarket", "Corner shop"]
    assert compare[0].distance_km == pytest.approx(8, abs=0.1)
    assert [d.product for d in page.context["top"]] == ["Oat milk", "Oat milk"]
    assert len(page.context["closest"]) == 3


def test_search_escapes_product_text(shopper_client):
    create_deal(product="<img src=x onerror=alert(1)>")
    page = shopper_client.get("/search/", {"q": "img"})
    assert b"<img src=x" not in page.content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in page.content


def test_bad_search_input_is_a_form_error(shopper_client):
    page = shopper_client.get("/search/", {"radius_km": "500"})
    assert page.status_code == 400
    assert b"less than or equal to 50" in page.content
