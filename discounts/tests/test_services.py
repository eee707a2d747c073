from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from discounts import services
from discounts.models import Discount
from eventlog.models import OutboxEvent
from tests.factories import MarketFactory, UserFactory, create_deal, deal_fields

pytestmark = pytest.mark.django_db


def types() -> list[str]:
    return list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))


def test_publishing_an_active_deal_records_its_event_in_the_same_transaction():
    # when
    deal = create_deal()
    # then
    row = OutboxEvent.objects.get()
    assert deal.listed
    assert row.type == "discount.published"
    assert row.deal_id == deal.pk
    assert row.envelope["data"]["product"] == "Apples 1kg"
    assert row.envelope["data"]["price"] == "1.99"
    assert row.envelope["version"] == "1"
    assert len(row.cells) == 2


def test_a_rolled_back_save_records_nothing():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            create_deal()
            raise RuntimeError("boom")
    assert not Discount.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"price": Decimal("5.00")}, "price"),
        ({"price": Decimal("3.00")}, "price"),
        ({"ends_at": timezone.now() - timedelta(days=1)}, "ends_at"),
        ({"product": ""}, "product"),
    ],
)
def test_invalid_deals_are_rejected_and_nothing_is_saved(overrides, field):
    fields = deal_fields(**overrides)
    with pytest.raises(ValidationError) as excinfo:
        services.discount_create(**fields)
    assert field in excinfo.value.message_dict
    assert not Discount.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_update_then_withdraw_then_delete_each_name_their_event():
    deal = create_deal()
    services.discount_update(discount=deal, price=Decimal("1.49"))
    services.discount_withdraw(discount=deal)
    services.discount_update(discount=deal, state=Discount.State.ACTIVE)
    services.discount_delete(discount=deal)
    assert types() == [
        "discount.published", "discount.updated", "discount.withdrawn", "discount.published", "discount.withdrawn",
    ]


def test_drafts_and_future_deals_are_silent():
    later = timezone.now() + timedelta(hours=1)
    create_deal(state=Discount.State.DRAFT)
    create_deal(starts_at=later, ends_at=later + timedelta(days=1))
    assert types() == []
    assert services.discounts_apply_schedule() == 0


def test_schedule_publishes_at_start_and_expires_at_end():
    deal = create_deal()
    start = timezone.now() + timedelta(seconds=0.2)
    services.discount_update(discount=deal, starts_at=start, ends_at=start + timedelta(seconds=0.3))
    assert types() == ["discount.published", "discount.withdrawn"]
    import time

    time.sleep(0.25)
    assert services.discounts_apply_schedule() == 1
    time.sleep(0.3)
    assert services.discounts_apply_schedule() == 1
    assert types()[-2:] == ["discount.published", "discount.expired"]


def test_queryset_update_and_bulk_create_do_not_skip_the_outbox():
    market = MarketFactory()
    create_deal(market=market)
    create_deal(market=market)
    # when a bulk path changes deals
    Discount.objects.filter(market=market).update(price=Decimal("0.99"))
    Discount.objects.bulk_create([Discount(**{k: v for k, v in deal_fields(market=market).items()}, starts_at=timezone.now())])
    Discount.objects.filter(market=market).update(state=Discount.State.WITHDRAWN)
    # then every change has its event
    assert types() == [
        "discount.published", "discount.published",
        "discount.updated", "discount.updated",
        "discount.published",
        "discount.withdrawn", "discount.withdrawn", "discount.withdrawn",
    ]
    assert not Discount.objects.filter(listed=True).exists()


def test_a_market_that_moves_tells_shoppers_of_both_places():
    deal = create_deal()
    market = deal.market
    market.lat += 0.2
    market.save()
    row = OutboxEvent.objects.order_by("-id").first()
    assert row.type == "discount.updated"
    assert len(row.footprints) == 2
    assert len(row.cells) == 4


def test_staff_cannot_manage_another_markets_deals():
    mine, theirs = MarketFactory(), MarketFactory()
    staff = UserFactory(is_staff=True)
    mine.staff.add(staff)
    with pytest.raises(PermissionDenied):
        services.discount_create(actor=staff, **deal_fields(market=theirs))
    deal = create_deal(market=theirs)
    with pytest.raises(PermissionDenied):
        services.discount_withdraw(discount=deal, actor=staff)
    assert Discount.objects.get(pk=deal.pk).listed
