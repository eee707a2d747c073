from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from discounts import services
from discounts.models import Discount
from eventlog.models import LogHead
from realtime import metrics, relay
from tests.factories import BERLIN, CategoryFactory, MarketFactory, ShopperFactory, create_deal

pytestmark = pytest.mark.django_db

AREA = {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}


def at(position: int) -> str:
    """The cursor this log issues for ``position``."""
    return f"{LogHead.objects.get(pk=1).epoch}-{position}"


@pytest.fixture
def shopper_api():
    api = APIClient()
    api.force_login(ShopperFactory())
    return api


def test_changes_feed_needs_a_login():
    assert APIClient().get("/api/deals/changes/", AREA).status_code in (401, 403)


def test_without_after_it_returns_no_events_and_the_current_cursor(shopper_api):
    create_deal()
    relay.sequence_batch()
    body = shopper_api.get("/api/deals/changes/", AREA).json()
    assert body == {"events": [], "cursor": at(1)}


def test_events_after_a_cursor_in_the_area_only(shopper_api):
    create_deal()
    relay.sequence_batch()
    far = create_deal(market=create_deal().market)  # same market twice keeps it simple
    relay.sequence_batch()
    body = shopper_api.get("/api/deals/changes/", {**AREA, "after": at(1)}).json()
    assert [e["event"]["data"]["id"] for e in body["events"]] == [far.pk - 1, far.pk]
    assert body["cursor"] == at(3)
    assert all(e["distance_km"] == pytest.approx(0, abs=0.01) for e in body["events"])
    other_city = shopper_api.get("/api/deals/changes/", {"lat": 48.1, "lng": 11.5, "radius_km": 5, "after": at(1)}).json()
    assert other_city["events"] == []


def feed(api, after: int, **params) -> list[dict]:
    body = api.get("/api/deals/changes/", {**AREA, "after": at(after), **params}).json()
    return [item["event"] for item in body["events"]]


def test_category_filter(shopper_api):
    produce = create_deal()
    milk = create_deal(category=CategoryFactory(slug="dairy"))
    relay.sequence_batch()
    assert [e["data"]["id"] for e in feed(shopper_api, 0, categories="dairy,bakery")] == [milk.pk]
    assert [e["data"]["id"] for e in feed(shopper_api, 0)] == [produce.pk, milk.pk]


def test_a_deal_moved_to_another_market_leaves_the_old_area_as_withdrawn():
    # given a shopper near the deal's market and one near a market 30 km away
    near, far = ShopperFactory(), ShopperFactory()
    deal = create_deal()
    far_market = MarketFactory(lat=BERLIN[0] + 0.27, lng=BERLIN[1])
    far_area = {"lat": far_market.lat, "lng": far_market.lng}
    relay.sequence_batch()
    near_api, far_api = APIClient(), APIClient()
    near_api.force_login(near)
    far_api.force_login(far)
    assert [e["type"] for e in feed(near_api, 0)] == ["discount.published"]
    # when staff move the deal to the far market
    services.discount_update(discount=Discount.objects.get(pk=deal.pk), market=far_market)
    relay.sequence_batch()
    # then the near shopper is told to drop it and the far shopper gets it
    assert [e["type"] for e in feed(near_api, 1)] == ["discount.withdrawn"]
    assert [e["type"] for e in feed(far_api, 1, **far_area)] == ["discount.updated"]


def test_a_renamed_category_keeps_the_shoppers_who_filter_on_it(shopper_api):
    # given a feed filtered on "dairy" that shows a dairy deal
    dairy = CategoryFactory(slug="dairy", name="Dairy")
    deal = create_deal(category=dairy)
    relay.sequence_batch()
    assert len(feed(shopper_api, 0, categories="dairy")) == 1
    # when the category is renamed, then the deal changes and is withdrawn
    dairy.slug, dairy.name = "milk-products", "Milk products"
    dairy.save()
    deal = Discount.objects.get(pk=deal.pk)
    services.discount_update(discount=deal, price=Decimal("0.50"))
    services.discount_withdraw(discount=Discount.objects.get(pk=deal.pk))
    relay.sequence_batch()
    # then the old filter still gets the rename, the change and the withdrawal, as does the new slug
    for slug in ("dairy", "milk-products"):
        events = feed(shopper_api, 1, categories=slug)
        assert [e["type"] for e in events] == ["discount.updated", "discount.updated", "discount.withdrawn"]
        assert events[0]["data"]["category"] == {"slug": "milk-products", "name": "Milk products"}
    assert feed(shopper_api, 1, categories="bakery") == []


def test_a_cursor_older_than_retention_asks_for_a_reset(shopper_api):
    # update_or_create: a running web process may already have made the row (it reads the log)
    LogHead.objects.update_or_create(pk=1, defaults={"position": 50, "pruned_through": 40})
    pruned = refusals("pruned")
    body = shopper_api.get("/api/deals/changes/", {**AREA, "after": at(12)}).json()
    assert body["reset"] is True and body["events"] == []
    assert refusals("pruned") == pruned + 1  # operators see why resumes cost a snapshot


@pytest.mark.parametrize(
    "params",
    [
        {**AREA, "after": "not-a-cursor"}, {**AREA, "after": "-5"}, {**AREA, "lat": "nan"},
        {"lat": 52, "lng": 13}, {**AREA, "radius_km": 99}, {**AREA, "categories": ",".join(["c"] * 60)},
        {**AREA, "lat": "1_0"}, {**AREA, "lng": "１３"}, {**AREA, "radius_km": " 5"}, {**AREA, "after": "1_000"},
        {**AREA, "after": " 1"}, {**AREA, "after": "１"},
    ],
)
def test_bad_input_is_a_400_with_a_message(shopper_api, params):
    response = shopper_api.get("/api/deals/changes/", params)
    assert response.status_code == 400
    assert response.json()


def test_a_cursor_from_another_log_or_ahead_of_this_one_gets_a_reset(shopper_api):
    create_deal()
    relay.sequence_batch()
    epoch = LogHead.objects.get(pk=1).epoch
    other = "0" * (len(epoch) - 1) + ("1" if epoch[-1] != "1" else "2")
    # positive control: this log's own cursor replays
    assert len(feed(shopper_api, 0)) == 1
    for cursor, reason in ((f"{other}-0", "epoch"), (f"{epoch}-5", "ahead"), ("0", "epoch")):
        before = refusals(reason)
        body = shopper_api.get("/api/deals/changes/", {**AREA, "after": cursor}).json()
        assert body.get("reset") is True, cursor
        assert body["events"] == []
        assert refusals(reason) == before + 1, cursor


def refusals(reason: str) -> float:
    """Resumes refused for ``reason`` so far, as ``/metrics`` of this process counts them."""
    return metrics.registry.get_sample_value("dealcast_resume_refusals_total", {"reason": reason}) or 0.0
