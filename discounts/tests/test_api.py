from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from discounts.models import Discount
from eventlog.models import OutboxEvent
from tests.factories import BERLIN, CategoryFactory, MarketFactory, UserFactory, create_deal, offset_km

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def city():
    near = MarketFactory(name="Near", lat=BERLIN[0], lng=BERLIN[1])
    far_lat, far_lng = offset_km(*BERLIN, north_km=30)
    far = MarketFactory(name="Far", lat=far_lat, lng=far_lng)
    dairy = CategoryFactory(slug="dairy")
    return {
        "near": near, "far": far,
        "cheap_near": create_deal(market=near, product="Milk 1L", category=dairy, price=Decimal("0.50"), original_price=Decimal("1.00")),
        "apples_near": create_deal(market=near, product="Apples", price=Decimal("1.50"), original_price=Decimal("2.00")),
        "milk_far": create_deal(market=far, product="Milk 1L", category=dairy, price=Decimal("0.40"), original_price=Decimal("1.20")),
    }


def ids(response) -> list[int]:
    return [deal["id"] for deal in response.json()["results"]]


def test_deals_near_a_point_with_distance(api, city):
    response = api.get("/api/deals/", {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5})
    assert response.status_code == 200
    body = response.json()
    assert set(ids(response)) == {city["cheap_near"].pk, city["apples_near"].pk}
    assert body["results"][0]["distance_km"] == pytest.approx(0, abs=0.01)
    assert set(body["results"][0]) >= {"id", "product", "category", "market", "original_price", "price", "currency", "percent_off", "starts_at", "ends_at"}


def test_text_category_and_ordering(api, city):
    assert set(ids(api.get("/api/deals/", {"q": "milk"}))) == {city["cheap_near"].pk, city["milk_far"].pk}
    assert set(ids(api.get("/api/deals/", {"category": "dairy"}))) == {city["cheap_near"].pk, city["milk_far"].pk}
    assert ids(api.get("/api/deals/", {"ordering": "price"}))[0] == city["milk_far"].pk
    assert ids(api.get("/api/deals/", {"ordering": "-percent_off"}))[0] == city["milk_far"].pk
    by_distance = ids(api.get("/api/deals/", {"ordering": "distance", "lat": BERLIN[0], "lng": BERLIN[1]}))
    assert by_distance[-1] == city["milk_far"].pk


@pytest.mark.parametrize(
    "params",
    [
        {"lat": "91", "lng": "13"}, {"lat": "nan", "lng": "13"}, {"lat": "52"}, {"lat": "52", "lng": "13", "radius_km": "0"},
        {"radius_km": "5"}, {"ordering": "bogus"}, {"lat": "abc", "lng": "13"},
    ],
)
def test_bad_query_is_a_400_with_a_message(api, params):
    response = api.get("/api/deals/", params)
    assert response.status_code == 400
    assert response.json()


def test_compare_and_top(api, city):
    compare = api.get("/api/deals/compare/", {"product": "milk"}).json()
    assert [d["id"] for d in compare] == [city["milk_far"].pk, city["cheap_near"].pk]
    top = api.get("/api/deals/top/", {"product": "milk", "limit": 1}).json()
    assert [d["id"] for d in top] == [city["milk_far"].pk]
    assert api.get("/api/deals/compare/").status_code == 400


@pytest.fixture
def staff_api(api, city):
    staff = UserFactory(is_staff=True)
    city["near"].staff.add(staff)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    return api


def test_integration_api_publishes_changes_and_withdraws(staff_api, city):
    created = staff_api.post(
        "/api/discounts/",
        {"market": city["near"].pk, "product": "Bread", "category": "dairy", "original_price": "3.00", "price": "2.00", "ends_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    deal_id = created.json()["id"]
    assert Discount.objects.get(pk=deal_id).listed
    patched = staff_api.patch(f"/api/discounts/{deal_id}/", {"price": "1.50"}, format="json")
    assert patched.status_code == 200 and patched.json()["price"] == "1.50"
    assert staff_api.delete(f"/api/discounts/{deal_id}/").status_code == 204
    types = list(OutboxEvent.objects.filter(deal_id=deal_id).order_by("id").values_list("type", flat=True))
    assert types == ["discount.published", "discount.updated", "discount.withdrawn"]


def test_integration_api_is_scoped_to_the_callers_markets(staff_api, city):
    foreign = staff_api.post(
        "/api/discounts/",
        {"market": city["far"].pk, "product": "Bread", "category": "dairy", "original_price": "3.00", "price": "2.00", "ends_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert foreign.status_code == 400 and "market" in foreign.json()
    assert staff_api.patch(f"/api/discounts/{city['milk_far'].pk}/", {"price": "0.10"}, format="json").status_code == 404
    assert staff_api.delete(f"/api/discounts/{city['milk_far'].pk}/").status_code == 404
    assert Discount.objects.get(pk=city["milk_far"].pk).listed


@pytest.mark.parametrize(
    "body, field",
    [
        ({"price": "5.00"}, "price"),
        ({"ends_at": "2000-01-01T00:00:00Z"}, "ends_at"),
        ({"category": "nope"}, "category"),
        ({"original_price": "-1"}, "original_price"),
        ({"product": "   "}, "product"),
    ],
)
def test_integration_api_bad_input_is_a_400_and_saves_nothing(staff_api, city, body, field):
    base = {"market": city["near"].pk, "product": "Bread", "category": "dairy", "original_price": "3.00", "price": "2.00", "ends_at": "2099-01-01T00:00:00Z"}
    before = Discount.objects.count()
    response = staff_api.post("/api/discounts/", {**base, **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Discount.objects.count() == before


def test_patch_that_breaks_the_price_rule_is_a_400(staff_api, city):
    response = staff_api.patch(f"/api/discounts/{city['cheap_near'].pk}/", {"price": "7.00"}, format="json")
    assert response.status_code == 400 and "price" in response.json()


def test_integration_api_needs_a_token(api, city):
    assert api.post("/api/discounts/", {}, format="json").status_code == 401


def test_health_and_schema(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/deals/", "/api/deals/compare/", "/api/deals/top/", "/api/deals/changes/", "/api/discounts/"} <= set(paths)


def test_the_deal_list_uses_a_fixed_number_of_queries(api, django_assert_num_queries):
    market = MarketFactory()
    for i in range(30):
        create_deal(market=market, product=f"Item {i}", category=CategoryFactory(slug=f"cat-{i % 5}"))
    with django_assert_num_queries(2):  # the count and the page, markets and categories joined
        response = api.get("/api/deals/", {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5})
    assert response.json()["count"] == 30


def test_anonymous_callers_are_throttled(api, settings):
    from django.core.cache import cache

    cache.delete("throttle_anon_127.0.0.1")
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "3/min"}
    with pytest.MonkeyPatch.context() as patch:
        from rest_framework.throttling import AnonRateThrottle

        patch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
        codes = [api.get("/api/deals/").status_code for _ in range(4)]
    cache.delete("throttle_anon_127.0.0.1")
    assert codes == [200, 200, 200, 429]


def test_a_deal_that_already_ended_is_refused_with_a_message(staff_api, city):
    base = {"market": city["near"].pk, "product": "Bread", "category": "dairy", "original_price": "3.00", "price": "2.00"}
    # started yesterday, ended an hour ago: "the end must be after the start" holds, yet nobody could see it
    ended = staff_api.post("/api/discounts/", {
        **base, "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-01T01:00:00Z",
    }, format="json")
    assert ended.status_code == 400
    assert "already passed" in str(ended.json()["ends_at"])
    # positive control: the same deal ending in the future is taken
    assert staff_api.post("/api/discounts/", {**base, "ends_at": "2099-01-01T00:00:00Z"}, format="json").status_code == 201
    # and a deal that ended may still be withdrawn (its end is not changed)
    deal = create_deal(market=city["near"], product="Old")
    Discount.objects.filter(pk=deal.pk).update(ends_at="2020-01-01T02:00:00Z", starts_at="2020-01-01T00:00:00Z")
    assert staff_api.delete(f"/api/discounts/{deal.pk}/").status_code == 204
