from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction

from markets.geo import market_cell


class Market(models.Model):
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=255)
    lat = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    lng = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    h3_cell = models.CharField(max_length=16, editable=False, db_index=True)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="markets")

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["lat", "lng"], name="market_lat_lng")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180),
                name="market_location_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # What a deal card shows of its market: a change to any of these is news for its deals' shoppers.
    SHOWN_FIELDS = ("name", "address", "lat", "lng")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_shown = {name: instance.__dict__.get(name) for name in cls.SHOWN_FIELDS}
        return instance

    @property
    def _loaded_location(self) -> tuple[float, float] | None:
        loaded = getattr(self, "_loaded_shown", None)
        return None if loaded is None else (loaded["lat"], loaded["lng"])

    @property
    def moved(self) -> bool:
        """Whether the location differs from the one loaded from the database."""
        loaded = self._loaded_location
        return loaded is not None and loaded != (self.lat, self.lng)

    @property
    def shown_changed(self) -> bool:
        """Whether anything a deal card shows of the market differs from what was loaded."""
        loaded = getattr(self, "_loaded_shown", None)
        return loaded is not None and any(loaded[name] != getattr(self, name) for name in self.SHOWN_FIELDS)

    def save(self, *args, **kwargs) -> None:
        # The cell is a pure function of the location; deriving it here keeps every write path right.
        self.h3_cell = market_cell(self.lat, self.lng)
        # Atomic so the post-save outbox rows commit with the row, whatever path called save().
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
        self._loaded_shown = {name: getattr(self, name) for name in self.SHOWN_FIELDS}
