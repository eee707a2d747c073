"""Discount querysets whose bulk writes still go through the outbox.

``QuerySet.update()``, ``bulk_update()`` and ``bulk_create()`` send no signals, so without these
overrides they would change what shoppers see without an event. Each one locks the rows, writes,
then sends one of the signals below in the same transaction; ``discounts.signals`` records the
events, as it does for ``post_save`` (the queryset does not know what an event is).
"""

from __future__ import annotations

from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

# ``discounts``: the new rows, each with ``listed`` set.
bulk_created = Signal()
# ``changes``: ``(discount, before)`` pairs, the row as written and as it was.
bulk_changed = Signal()


class DiscountQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        with transaction.atomic(using=self.db):
            before = self._lock_for_change()
            count = super().update(**kwargs)
            self._record_changes(before)
        return count

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        with transaction.atomic(using=self.db):
            before = self.model.objects.filter(pk__in=[obj.pk for obj in objs])._lock_for_change()
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            self._record_changes(before)
        return count

    def bulk_create(self, objs, *args, **kwargs):
        with transaction.atomic(using=self.db):
            now = timezone.now()
            for obj in objs:
                obj.listed = obj.is_visible_at(now)
            created = super().bulk_create(objs, *args, **kwargs)
            bulk_created.send(sender=self.model, discounts=created)
        return created

    def _lock_for_change(self) -> dict:
        rows = self.select_for_update(of=("self",)).select_related("market", "category").order_by("pk")
        return {row.pk: row for row in rows}

    def _record_changes(self, before: dict) -> None:
        """Bring ``listed`` in step with each changed row and announce the changes.

        Precondition: the caller holds the row locks taken by ``_lock_for_change`` for ``before``.
        """
        now = timezone.now()
        changed = list(self.model.objects.filter(pk__in=list(before)).select_related("market", "category"))
        for discount in changed:
            visible = discount.is_visible_at(now)
            if visible != discount.listed:
                models.QuerySet.update(self.model.objects.filter(pk=discount.pk), listed=visible)
                discount.listed = visible
        bulk_changed.send(sender=self.model, changes=[(discount, before[discount.pk]) for discount in changed])
