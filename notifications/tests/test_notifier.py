"""The notifier's decisions, read from the real log in PostgreSQL: who is told what, once."""

from decimal import Decimal

import pytest

from discounts import services
from eventlog.models import LogConsumer, OutboxEvent
from notifications import notifier
from notifications.models import Notification, NotifierDeadEvent, WatchedProduct
from realtime import relay
from tests.factories import BERLIN, CategoryFactory, MarketFactory, ShopperFactory, create_deal, offset_km, push_subscription_for

pytestmark = pytest.mark.django_db


def read_log() -> None:
    relay.sequence_batch()
    notifier.notify_until_caught_up()


def opted_in(**fields):
    shopper = ShopperFactory(**fields)
    push_subscription_for(shopper)
    return shopper


def told(reason=None):
    rows = Notification.objects.all()
    if reason:
        rows = rows.filter(reason=reason)
    return sorted(rows.values_list("user__username", "deal_id"))


def test_a_new_deal_reaches_opted_in_shoppers_whose_area_and_categories_hold_it():
    dairy, bakery = CategoryFactory(slug="dairy"), CategoryFactory(slug="bakery")
    opted_in(username="near")
    picky = opted_in(username="picky")
    picky.categories.set([bakery])
    far_lat, far_lng = offset_km(*BERLIN, north_km=20)
    opted_in(username="far", home_lat=far_lat, home_lng=far_lng)
    ShopperFactory(username="not-opted-in")
    deal = create_deal(market=MarketFactory(lat=offset_km(*BERLIN, north_km=1)[0]), category=dairy, product="Greek yoghurt")
    read_log()
    assert told() == [("near", deal.pk)]
    note = Notification.objects.get()
    assert note.reason == "new" and note.payload["url"] == f"/deals/{deal.pk}/"
    assert note.payload["title"] == "New deal: Greek yoghurt 1.99 EUR (−34%)"
    assert note.payload["body"].endswith("1.0 km away")


def test_reading_the_log_again_decides_nothing_twice():
    opted_in(username="near")
    create_deal()
    read_log()
    assert len(told()) == 1
    # a notifier whose offset went back (killed before it stored it) reads the same events again
    LogConsumer.objects.filter(name=notifier.READER).update(position=0)
    read_log()
    assert len(told()) == 1
    assert LogConsumer.objects.get(name=notifier.READER).deduplicated == 1


def test_a_lower_price_is_a_price_drop_once_and_a_higher_one_says_nothing():
    opted_in(username="near")
    deal = create_deal(price=Decimal("1.99"))
    read_log()
    services.discount_update(discount=deal, price=Decimal("2.10"))
    read_log()
    assert told("drop") == []  # positive control for the drop below: a rise is not news
    services.discount_update(discount=deal, price=Decimal("1.49"))
    read_log()
    assert told("drop") == [("near", deal.pk)]
    assert Notification.objects.get(reason="drop").payload["title"] == "Price drop: Apples 1kg 2.10 → 1.49 EUR"
    services.discount_update(discount=deal, price=Decimal("1.29"))
    read_log()
    assert len(told("drop")) == 1  # never the same deal twice for the same reason


def test_a_watched_product_at_its_price_is_told_whatever_the_category():
    shopper = opted_in(username="watcher")
    shopper.categories.set([CategoryFactory(slug="bakery")])
    WatchedProduct.objects.create(user=shopper, text="yogurt", target_price=Decimal("1.50"))
    dairy = CategoryFactory(slug="dairy")
    dear = create_deal(product="Greek yoghurt 500g", category=dairy, price=Decimal("1.99"))
    read_log()
    assert told() == []  # above the target price, and not in their categories
    services.discount_update(discount=dear, price=Decimal("1.45"))
    read_log()
    assert told("watch") == [("watcher", dear.pk)]
    assert "you wanted 1.50 or less" in Notification.objects.get().payload["title"]
    # a watch alert fires once per deal: a further cut is not a second one
    services.discount_update(discount=dear, price=Decimal("1.40"))
    read_log()
    assert told() == [("watcher", dear.pk)]


def test_withdrawals_tell_no_one():
    opted_in(username="near")
    deal = create_deal()
    read_log()
    services.discount_withdraw(discount=deal)
    read_log()
    assert len(told()) == 1


def test_a_poison_event_is_set_aside_and_the_next_one_is_still_told():
    opted_in(username="near")
    create_deal(product="First")
    relay.sequence_batch()
    # the stored event cannot be read as a deal any more (a bad migration, a manual edit)
    OutboxEvent.objects.update(footprints=[["not", "a", "place"]])
    second = create_deal(product="Second")
    read_log()
    assert NotifierDeadEvent.objects.count() == 1
    assert told() == [("near", second.pk)]
    assert LogConsumer.objects.get(name=notifier.READER).position == 2


def test_metrics_show_the_notifiers_lag_and_what_became_of_its_notifications(client):
    opted_in(username="near")
    create_deal()
    relay.sequence_batch()
    before = client.get("/metrics").content.decode()
    assert "dealcast_notifier_lag_events 1.0" in before  # positive control: read nothing yet
    notifier.notify_until_caught_up()
    after = client.get("/metrics").content.decode()
    assert "dealcast_notifier_lag_events 0.0" in after
    assert 'dealcast_notifications{state="pending"} 1.0' in after
    assert "dealcast_notifier_dead_events 0.0" in after
