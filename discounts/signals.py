"""Post-save/post-delete receivers: they only record events in the log, in the saving transaction.

The market's receiver lives here too: a market does not know it has deals whose cards show its
name and place; the deals' app listens to it (receivers sit with the listener, not the sender).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from discounts.events import footprint, loaded_footprint, record_discount_event, record_listed_deals_changed
from discounts.models import Category, Discount
from discounts.querysets import bulk_changed, bulk_created
from markets.models import Market


@receiver(post_save, sender=Discount, dispatch_uid="discount_saved_outbox")
def discount_saved(sender, instance: Discount, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    record_discount_event(
        instance, was_listed=getattr(instance, "listed_before", False), previous=loaded_footprint(instance)
    )


@receiver(post_delete, sender=Discount, dispatch_uid="discount_deleted_outbox")
def discount_deleted(sender, instance: Discount, **kwargs) -> None:
    record_discount_event(
        instance, was_listed=getattr(instance, "listed_before", instance.listed), deleted=True,
        previous=loaded_footprint(instance),
    )


@receiver(bulk_created, sender=Discount, dispatch_uid="discounts_bulk_created_outbox")
def discounts_bulk_created(sender, discounts: list[Discount], **kwargs) -> None:
    for discount in discounts:
        discount.listed_before = discount.listed
        record_discount_event(discount, was_listed=False)


@receiver(bulk_changed, sender=Discount, dispatch_uid="discounts_bulk_changed_outbox")
def discounts_bulk_changed(sender, changes: list[tuple[Discount, Discount]], **kwargs) -> None:
    for discount, before in changes:
        record_discount_event(discount, was_listed=before.listed, previous=footprint(before))


@receiver(post_save, sender=Category, dispatch_uid="category_renamed_outbox")
def category_saved(sender, instance: Category, created: bool, raw: bool = False, **kwargs) -> None:
    """A renamed category changes its deals' cards: tell their shoppers (filters follow by id)."""
    if raw or created or getattr(instance, "loaded_shown", None) == (instance.slug, instance.name):
        return
    record_listed_deals_changed(category=instance)


@receiver(post_save, sender=Market, dispatch_uid="market_changed_outbox")
def market_saved(sender, instance: Market, created: bool, raw: bool = False, **kwargs) -> None:
    """A market whose deal cards change (moved, renamed) tells its deals' shoppers."""
    if raw or created or not instance.shown_changed:
        return
    old_lat, old_lng = instance._loaded_location
    record_listed_deals_changed(
        market=instance, previous_location=(old_lat, old_lng) if instance.moved else None
    )
