"""Which event a change to a discount is, and recording it in the outbox.

Called by the post-save/post-delete receivers and by the bulk paths of ``DiscountQuerySet``; nothing
here touches the network.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from discounts.models import Discount
from discounts.serializers import deal_data
from markets.geo import routing_cells
from realtime.outbox import outbox_record


def event_type_for(discount: Discount, *, was_listed: bool, deleted: bool = False) -> str | None:
    """Name the event that tells shoppers about this change, or ``None`` if they see no change."""
    if deleted:
        return "discount.withdrawn" if was_listed else None
    if discount.listed:
        return "discount.updated" if was_listed else "discount.published"
    if not was_listed:
        return None
    if discount.state == Discount.State.ACTIVE and discount.ends_at <= timezone.now():
        return "discount.expired"
    return "discount.withdrawn"


def footprint(discount: Discount) -> list[Any]:
    return [discount.market.lat, discount.market.lng, discount.category.slug]


def record_discount_event(
    discount: Discount, *, was_listed: bool, deleted: bool = False, previous: list[Any] | None = None
) -> None:
    """Record the event for this change, if shoppers see one.

    ``previous`` is where and what the deal was before (lat, lng, category slug) when that changed,
    so shoppers who could see it there are told too.
    """
    event_type = event_type_for(discount, was_listed=was_listed, deleted=deleted)
    if event_type is None:
        return
    footprints = [footprint(discount)]
    if previous is not None and previous != footprints[0]:
        footprints.append(previous)
    cells = [cell for lat, lng, _ in footprints for cell in routing_cells(lat, lng)]
    outbox_record(
        event_type=event_type,
        deal_id=discount.pk,
        market_id=discount.market_id,
        data=deal_data(discount),
        cells=cells,
        footprints=footprints,
    )
