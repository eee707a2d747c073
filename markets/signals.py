"""Post-save receiver: a market that moved tells the shoppers of its listed deals, old and new area."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from markets.models import Market


@receiver(post_save, sender=Market, dispatch_uid="market_moved_outbox")
def market_saved(sender, instance: Market, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or created or not instance.moved:
        return
    from discounts.events import record_discount_event
    from discounts.models import Discount

    old_lat, old_lng = instance._loaded_location
    for discount in Discount.objects.filter(market=instance, listed=True).select_related("category"):
        discount.market = instance
        record_discount_event(
            discount, was_listed=True, previous=[old_lat, old_lng, discount.category.slug]
        )
