import pytest
from rest_framework.test import APIClient

from realtime import relay
from realtime.models import LogHead
from tests.factories import BERLIN, ShopperFactory, create_deal

pytestmark = pytest.mark.django_db

AREA = {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}


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
    assert body == {"events": [], "cursor": "1"}


def test_events_after_a_cursor_in_the_area_only(shopper_api):
    create_deal()
    relay.sequence_batch()
    far = create_deal(market=create_deal().market)  # same market twice keeps it simple
    relay.sequence_batch()
    body = shopper_api.get("/api/deals/changes/", {**AREA, "after": "1"}).json()
    assert [e["event"]["data"]["id"] for e in body["events"]] == [far.pk - 1, far.pk]
    assert body["cursor"] == "3"
    assert all(e["distance_km"] == pytest.approx(0, abs=0.01) for e in body["events"])
    other_city = shopper_api.get("/api/deals/changes/", {"lat": 48.1, "lng": 11.5, "radius_km": 5, "after": "1"}).json()
    assert other_city["events"] == []


def test_category_filter(shopper_api):
    create_deal()
    relay.sequence_batch()
    body = shopper_api.get("/api/deals/changes/", {**AREA, "after": "0", "categories": "dairy,bakery"}).json()
    assert body["events"] == []


def test_a_cursor_older_than_retention_asks_for_a_reset(shopper_api):
    LogHead.objects.create(pk=1, position=50, pruned_through=40)
    body = shopper_api.get("/api/deals/changes/", {**AREA, "after": "12"}).json()
    assert body["reset"] is True and body["events"] == []


@pytest.mark.parametrize(
    "params",
    [
        {**AREA, "after": "not-a-cursor"}, {**AREA, "after": "-5"}, {**AREA, "lat": "nan"},
        {"lat": 52, "lng": 13}, {**AREA, "radius_km": 99}, {**AREA, "categories": ",".join(["c"] * 60)},
    ],
)
def test_bad_input_is_a_400_with_a_message(shopper_api, params):
    response = shopper_api.get("/api/deals/changes/", params)
    assert response.status_code == 400
    assert response.json()
