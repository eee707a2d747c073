from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.utils import timezone

from discounts.querysets import DiscountQuerySet


class Category(models.Model):
    """A kind of product shoppers filter on.

    Shoppers' sockets, saved preferences and feed URLs name categories by slug; ``former_slugs`` keeps
    the slugs a rename replaced so those filters still find the category (``category_ids_for``).
    """

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=80)
    former_slugs = ArrayField(models.SlugField(max_length=50), default=list, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.loaded_shown = (instance.__dict__.get("slug"), instance.__dict__.get("name"))
        return instance

    def save(self, *args, **kwargs) -> None:
        loaded_slug = getattr(self, "loaded_shown", (None, None))[0]
        if loaded_slug and loaded_slug != self.slug and loaded_slug not in self.former_slugs:
            self.former_slugs = [*self.former_slugs, loaded_slug]
        self.former_slugs = [slug for slug in self.former_slugs if slug != self.slug]
        # Atomic so the post-save outbox rows of its deals commit with the rename.
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
        self.loaded_shown = (self.slug, self.name)


class Discount(models.Model):
    """A market's deal on one product.

    ``listed`` records whether shoppers have been told the deal is visible (an event
    ``discount.published`` went out and no ``withdrawn``/``expired`` since). Services keep it in step
    with ``is_visible_at``; the outbox receivers read the change of ``listed`` to name the event.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"

    market = models.ForeignKey("markets.Market", on_delete=models.CASCADE, related_name="discounts")
    product = models.CharField(max_length=200)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="discounts")
    original_price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default=settings.DEALCAST_CURRENCY)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    listed = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DiscountQuerySet.as_manager()

    # The fields that decide which shoppers an event reaches: a change to any of them sends the event
    # to the deal's footprint before the change as well as after (``discounts.events``).
    ROUTING_FIELDS = ("market_id", "category_id")

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["listed", "ends_at"], name="discount_listed_ends"),
            models.Index(fields=["state", "starts_at"], name="discount_state_starts"),
            GinIndex(fields=["product"], opclasses=["gin_trgm_ops"], name="discount_product_trgm"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="discount_price_positive"),
            models.CheckConstraint(
                condition=models.Q(price__lt=models.F("original_price")), name="discount_price_below_original"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="discount_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} at {self.market.name}"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.listed_before = instance.__dict__.get("listed", False)
        instance.loaded_routing = {name: instance.__dict__.get(name) for name in cls.ROUTING_FIELDS}
        instance.loaded_ends_at = instance.__dict__.get("ends_at")
        return instance

    @property
    def routing_changed(self) -> bool:
        """Whether a routing field differs from what was loaded from the database."""
        loaded = getattr(self, "loaded_routing", None)
        return loaded is not None and any(loaded[name] != getattr(self, name) for name in self.ROUTING_FIELDS)

    @property
    def percent_off(self) -> float:
        return float(round((1 - self.price / self.original_price) * 100, 1))

    def is_visible_at(self, now: datetime) -> bool:
        """Active and inside its validity window: what shoppers may see at ``now``."""
        return self.state == self.State.ACTIVE and self.starts_at <= now < self.ends_at

    def clean(self) -> None:
        errors = {}
        if self.price is not None and self.original_price is not None and self.price >= self.original_price:
            errors["price"] = "The deal price must be below the original price."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must be after the start."
        elif self.ends_at and self.ends_at != getattr(self, "loaded_ends_at", None) and self.ends_at <= timezone.now():
            # Only a new or changed end: withdrawing or editing a deal that already ended stays possible.
            errors["ends_at"] = "This end time has already passed: a deal must end in the future."
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha()):
            errors["currency"] = "Use a three-letter currency code."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        # Atomic so the post-save outbox row commits with the row, whatever path called save(); no
        # savepoint inside a service's transaction, which rolls back whole anyway.
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)
        self.listed_before = self.listed
        self.loaded_routing = {name: getattr(self, name) for name in self.ROUTING_FIELDS}
        self.loaded_ends_at = self.ends_at

    def delete(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using")):
            return super().delete(*args, **kwargs)
