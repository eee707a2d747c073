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
    page = shopper_client.get("/search/", {"q": "oat", "ordering": "price"})
    assert page.status_code == 200
    compare = list(page.context["results"])
    assert [d.market.name for d in compare] == ["Hypermarket", "Corner shop"]
    assert compare[0].distance_km == pytest.approx(8, abs=0.1)
    # one table: the top five by % off are marked in it, not listed again
    assert page.context["top_ids"] == {d.pk for d in compare}
    assert page.content.decode().count("★ top 5") == 2
    assert page.content.decode().count("<table") == 1
    # with no product asked for, the closest deals to the saved location
    assert len(shopper_client.get("/search/", {}).context["closest"]) == 3


@pytest.mark.parametrize("query", ["yogurt", "YOGHURT", "yoghurts", "greek yogurt", "dairy"])
def test_search_finds_spelling_variants_and_categories_best_match_first(shopper_client, query):
    from tests.factories import CategoryFactory

    dairy = CategoryFactory(slug="dairy", name="Dairy")
    greek = create_deal(product="Greek yoghurt", category=dairy)
    create_deal(product="Bread")
    results = list(shopper_client.get("/search/", {"q": query}).context["results"])
    assert greek in results
    # positive control: an unrelated product is not matched
    assert "Bread" not in [d.product for d in results]


def test_search_escapes_product_text(shopper_client):
    create_deal(product="<img src=x onerror=alert(1)>")
    page = shopper_client.get("/search/", {"q": "img"})
    assert b"<img src=x" not in page.content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in page.content


def test_bad_search_input_is_a_form_error(shopper_client):
    page = shopper_client.get("/search/", {"radius_km": "500"})
    assert page.status_code == 400
    assert b"less than or equal to 50" in page.content


def test_the_city_page_is_open_to_visitors_with_a_pin_per_market(client):
    north, east = MarketFactory(name="North"), MarketFactory(name="East")
    create_deal(market=north, product="Plums", price=Decimal("1.20"), original_price=Decimal("2.00"))
    create_deal(market=north, product="Pears", price=Decimal("0.80"), original_price=Decimal("1.00"))
    create_deal(market=east, product="Plum jam")
    page = client.get("/city/", {"q": "plum"})
    assert page.status_code == 200
    pins = {pin["name"]: pin for pin in page.context["pins"]}
    # the pins count the deals that match, and a pin's best price is among them
    assert pins["North"]["deals"] == 1 and pins["North"]["best_price"] == "1.20 EUR"
    assert set(pins) == {"North", "East"}
    # positive control: without the search, North's pin counts both its deals
    assert {pin["name"]: pin["deals"] for pin in client.get("/city/").context["pins"]} == {"North": 2, "East": 1}


def test_bad_city_filters_are_a_form_error(client):
    page = client.get("/city/", {"category": "no-such-category"})
    assert page.status_code == 400
    assert b"Select a valid choice" in page.content


def test_the_city_page_shares_the_apis_budget_for_anonymous_callers(client, settings):
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle

    address = "2001:db8:c17::1"
    cache.delete(f"throttle_anon_{address}")
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "3/min"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
        api = client.get("/api/deals/", REMOTE_ADDR=address).status_code
        pages = [client.get("/city/", {"q": "milk"}, REMOTE_ADDR=address) for _ in range(3)]
    cache.delete(f"throttle_anon_{address}")
    # the API's call and the pages draw on one budget: the third page is one too many
    assert [api, *(page.status_code for page in pages)] == [200, 200, 200, 429]
    assert b"Too many searches" in pages[-1].content and int(pages[-1]["Retry-After"]) >= 1
