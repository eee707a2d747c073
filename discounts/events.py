"""Which event a change to a discount is, and recording it in the event log.

Called by the receivers of ``discounts.signals`` (post-save, post-delete and the bulk writes of
``DiscountQuerySet``); nothing here touches the network.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from discounts.models import Category, Discount
from discounts.serializers import deal_data
from eventlog.recording import record_event
from eventlog.vocabulary import EXPIRED, PUBLISHED, UPDATED, WITHDRAWN
from markets.geo import routing_cells
from markets.models import Market


def event_type_for(discount: Discount, *, was_listed: bool, deleted: bool = False) -> str | None:
    """Name the event that tells shoppers about this change, or ``None`` if they see no change."""
    if deleted:
        return WITHDRAWN if was_listed else None
    if discount.listed:
        return UPDATED if was_listed else PUBLISHED
    if not was_listed:
        return None
    if discount.state == Discount.State.ACTIVE and discount.ends_at <= timezone.now():
        return EXPIRED
    return WITHDRAWN


def footprint(discount: Discount) -> list[Any]:
    """Where and what the deal is, as subscriptions match it: ``[lat, lng, category_id]``.

    The category's id, not its slug, so a renamed category keeps its shoppers.
    """
    return [discount.market.lat, discount.market.lng, discount.category_id]


def loaded_footprint(discount: Discount) -> list[Any] | None:
    """The footprint the deal had when loaded, if a routing field (``Discount.ROUTING_FIELDS``) changed since."""
    if not discount.routing_changed:
        return None
    loaded = discount.loaded_routing
    lat, lng = Market.objects.values_list("lat", "lng").get(pk=loaded["market_id"])
    return [lat, lng, loaded["category_id"]]


def record_discount_event(
    discount: Discount, *, was_listed: bool, deleted: bool = False, previous: list[Any] | None = None
) -> None:
    """Record the event for this change, if shoppers see one.

    ``previous`` is the deal's footprint before the change when that differs, so the shoppers who
    could see it there are told too (``Subscription.left`` tells them to drop it).
    """
    event_type = event_type_for(discount, was_listed=was_listed, deleted=deleted)
    if event_type is None:
        return
    footprints = [footprint(discount)]
    if previous is not None and previous != footprints[0]:
        footprints.append(previous)
    cells = [cell for lat, lng, _ in footprints for cell in routing_cells(lat, lng)]
    record_event(
        event_type=event_type,
        deal_id=discount.pk,
        market_id=discount.market_id,
        data=deal_data(discount),
        cells=cells,
        footprints=footprints,
    )


def record_listed_deals_changed(
    *, market: Market | None = None, category: Category | None = None,
    previous_location: tuple[float, float] | None = None,
) -> None:
    """Record ``discount.updated`` for each listed deal of a market or category whose cards changed.

    ``previous_location`` is where a moved market was, so shoppers there learn its deals left.
    """
    deals = Discount.objects.filter(listed=True).select_related("market", "category")
    deals = deals.filter(market=market) if market is not None else deals.filter(category=category)
    for discount in deals:
        if market is not None:
            discount.market = market
        if category is not None:
            discount.category = category
        previous = None
        if previous_location is not None:
            previous = [*previous_location, discount.category_id]
        record_discount_event(discount, was_listed=True, previous=previous)
