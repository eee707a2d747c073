"""Every write to discounts: admin, the API, the demo and the schedule call these.

Each function runs in one transaction; the post-save receivers add the outbox row to it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from discounts.models import Category, Discount
from markets.models import Market
from markets.selectors import user_manages_market

EDITABLE_FIELDS = frozenset(
    {"market", "product", "category", "original_price", "price", "currency", "starts_at", "ends_at", "state"}
)


def _check_manages(actor, market: Market) -> None:
    if actor is not None and not user_manages_market(actor, market.pk):
        raise PermissionDenied("You can only manage the discounts of your own markets.")


def _save(discount: Discount) -> Discount:
    # The market and category arrive as loaded rows and ``Discount.clean`` states the table's check
    # constraints with their messages, so the per-field existence queries and per-constraint queries
    # of a plain ``full_clean()`` (10 of a save's 15 round trips) would only repeat what is known; the
    # database still enforces both.
    discount.full_clean(exclude=["market", "category"], validate_constraints=False)
    discount.listed = discount.is_visible_at(timezone.now())
    discount.save()
    return discount


@transaction.atomic
def discount_create(
    *,
    market: Market,
    product: str,
    category: Category,
    original_price: Decimal,
    price: Decimal,
    ends_at: datetime,
    starts_at: datetime | None = None,
    currency: str | None = None,
    state: str = Discount.State.ACTIVE,
    actor=None,
) -> Discount:
    """Create a discount; active and inside its window means shoppers see it at once."""
    _check_manages(actor, market)
    discount = Discount(
        market=market,
        product=product.strip(),
        category=category,
        original_price=original_price,
        price=price,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
        state=state,
    )
    if currency:
        discount.currency = currency.upper()
    return _save(discount)


@transaction.atomic
def discount_update(*, discount: Discount, actor=None, **changes: Any) -> Discount:
    """Change a discount's fields; the row is locked so its events keep their order."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}")
    _check_manages(actor, discount.market)
    locked = Discount.objects.select_for_update().select_related("market", "category").get(pk=discount.pk)
    if "market" in changes:
        _check_manages(actor, changes["market"])
    for field, value in changes.items():
        setattr(locked, field, value)
    if "currency" in changes and changes["currency"]:
        locked.currency = changes["currency"].upper()
    return _save(locked)


def discount_withdraw(*, discount: Discount, actor=None) -> Discount:
    """End a deal early: it disappears from shoppers' pages."""
    return discount_update(discount=discount, actor=actor, state=Discount.State.WITHDRAWN)


@transaction.atomic
def discount_delete(*, discount: Discount, actor=None) -> None:
    _check_manages(actor, discount.market)
    Discount.objects.select_for_update().get(pk=discount.pk).delete()


@transaction.atomic
def discounts_withdraw(*, discounts: QuerySet[Discount], actor=None) -> int:
    """Withdraw many discounts (admin bulk action), each through ``discount_withdraw``."""
    count = 0
    for discount in discounts.select_related("market").order_by("pk"):
        discount_withdraw(discount=discount, actor=actor)
        count += 1
    return count


@transaction.atomic
def discounts_delete(*, discounts: QuerySet[Discount], actor=None) -> int:
    count = 0
    for discount in discounts.select_related("market").order_by("pk"):
        discount_delete(discount=discount, actor=actor)
        count += 1
    return count


def discounts_apply_schedule(*, now: datetime | None = None) -> int:
    """Publish deals whose start arrived and expire those whose end passed; returns how many changed."""
    from discounts.selectors import discounts_due_for_schedule

    now = now or timezone.now()
    changed = 0
    for pk in discounts_due_for_schedule(now=now).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            discount = Discount.objects.select_for_update().select_related("market", "category").get(pk=pk)
            visible = discount.is_visible_at(timezone.now())
            if visible != discount.listed:
                discount.listed = visible
                discount.save(update_fields=["listed", "updated_at"])
                changed += 1
    return changed
