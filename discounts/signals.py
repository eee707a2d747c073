"""Post-save/post-delete receivers: they only record outbox rows, in the saving transaction."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from discounts.events import loaded_footprint, record_discount_event, record_listed_deals_changed
from discounts.models import Category, Discount


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


@receiver(post_save, sender=Category, dispatch_uid="category_renamed_outbox")
def category_saved(sender, instance: Category, created: bool, raw: bool = False, **kwargs) -> None:
    """A renamed category changes its deals' cards: tell their shoppers (filters follow by id)."""
    if raw or created or getattr(instance, "loaded_shown", None) == (instance.slug, instance.name):
        return
    record_listed_deals_changed(category=instance)
