from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from discounts import services
from eventlog.selectors import log_head_mark
from realtime import relay
from realtime.selectors import area_deals_queried, area_snapshot
from realtime.snapshots import CityDeals, snapshot_from_copy
from realtime.subscriptions import Subscription
from tests.factories import BERLIN, CategoryFactory, MarketFactory, create_deal, offset_km

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_of_deals():
    """Deals at 0.5 to 9 km, in two categories, some not visible (future, withdrawn, draft)."""
    dairy, bakery = CategoryFactory(slug="dairy"), CategoryFactory(slug="bakery")
    for km in (0.5, 1.5, 3.0, 4.99, 6.0, 9.0):
        market = MarketFactory(lat=offset_km(*BERLIN, north_km=km)[0], lng=offset_km(*BERLIN, east_km=km / 3)[1])
        create_deal(market=market, category=dairy, price=Decimal("1.50"))
        create_deal(market=market, category=bakery, price=Decimal("0.99"), product="Rolls")
    near = MarketFactory(lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    create_deal(market=near, category=dairy, starts_at=timezone.now() + timedelta(hours=2))
    services.discount_withdraw(discount=create_deal(market=near, category=dairy, product="Gone"))
    create_deal(market=near, category=dairy, product="Draft", state="draft")
    with relay.relay_turn():
        relay.sequence_batch()


@pytest.mark.parametrize("radius, categories, at_least", [
    (5, None, 6), (2, ["dairy"], 2), (50, ["bakery", "dairy"], 12), (0.5, None, 0),
])
def test_a_snapshot_from_the_city_copy_equals_the_query(city_of_deals, radius, categories, at_least):
    sub = Subscription.build(lat=BERLIN[0], lng=BERLIN[1], radius_km=radius, categories=categories)
    head, event_id, epoch = log_head_mark()
    # when the copy answers
    from_copy = snapshot_from_copy(CityDeals().at((head, event_id)), sub, head, epoch)
    # then it is what the database answers, deal for deal, in the same order
    assert from_copy.deals == area_deals_queried(sub)
    assert len(from_copy.deals) >= at_least


def test_the_copy_is_reloaded_when_the_log_moves(city_of_deals):
    sub = Subscription.build(lat=BERLIN[0], lng=BERLIN[1], radius_km=5)
    before = area_snapshot(sub)
    # when a deal is published and relayed
    market = MarketFactory(lat=offset_km(*BERLIN, north_km=0.2)[0], lng=BERLIN[1])
    deal = create_deal(market=market, product="Fresh in")
    with relay.relay_turn():
        relay.sequence_batch()
    # then the next snapshot names the new head and shows the deal first
    after = area_snapshot(sub)
    assert after.head == before.head + 1
    assert after.deals[0]["id"] == deal.pk
    assert deal.pk not in [d["id"] for d in before.deals]
