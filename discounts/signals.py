"""Post-save/post-delete receivers: they only record outbox rows, in the saving transaction."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from discounts.events import record_discount_event
from discounts.models import Category, Discount


@receiver(post_save, sender=Discount, dispatch_uid="discount_saved_outbox")
def discount_saved(sender, instance: Discount, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    previous = None
    loaded_category_id = getattr(instance, "loaded_category_id", None)
    if loaded_category_id is not None and loaded_category_id != instance.category_id:
        old_slug = Category.objects.values_list("slug", flat=True).get(pk=loaded_category_id)
        previous = [instance.market.lat, instance.market.lng, old_slug]
    record_discount_event(instance, was_listed=getattr(instance, "listed_before", False), previous=previous)


@receiver(post_delete, sender=Discount, dispatch_uid="discount_deleted_outbox")
def discount_deleted(sender, instance: Discount, **kwargs) -> None:
    record_discount_event(instance, was_listed=getattr(instance, "listed_before", instance.listed), deleted=True)
