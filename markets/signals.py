"""Post-save receiver: a market whose deal cards change (moved, renamed) tells its deals' shoppers."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from markets.models import Market


@receiver(post_save, sender=Market, dispatch_uid="market_changed_outbox")
def market_saved(sender, instance: Market, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or created or not instance.shown_changed:
        return
    from discounts.events import record_listed_deals_changed

    old_lat, old_lng = instance._loaded_location
    record_listed_deals_changed(
        market=instance, previous_location=(old_lat, old_lng) if instance.moved else None
    )
