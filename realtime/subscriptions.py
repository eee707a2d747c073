"""What one shopper's connection (or poll) wants to see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markets.geo import clean_lat, clean_lng, clean_radius_km, covering_cells, distance_km

MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Subscription:
    lat: float
    lng: float
    radius_km: float
    categories: frozenset[str] | None
    cells: frozenset[str]

    @classmethod
    def build(cls, *, lat: Any, lng: Any, radius_km: Any, categories: Any = None) -> "Subscription":
        """Validate raw input; raises ``InvalidLocation`` or ``ValueError`` with a message for the user."""
        lat, lng, radius = clean_lat(lat), clean_lng(lng), clean_radius_km(radius_km)
        if categories is not None:
            if not isinstance(categories, (list, tuple)) or not all(isinstance(c, str) for c in categories):
                raise ValueError("categories must be a list of category slugs.")
            if len(categories) > MAX_CATEGORIES:
                raise ValueError(f"At most {MAX_CATEGORIES} categories.")
        cats = frozenset(categories) if categories else None
        return cls(lat, lng, radius, cats, frozenset(covering_cells(lat, lng, radius)))

    def distance_to(self, lat: float, lng: float) -> float:
        return distance_km(self.lat, self.lng, lat, lng)

    def match(self, footprints: list[list[Any]]) -> float | None:
        """The deal's current distance if any footprint (now or before the change) is in this area.

        Footprints are ``[lat, lng, category_slug]``, the current one first; a deal that left the area
        still matches on its old footprint so the shopper learns it is gone.
        """
        hit = False
        for lat, lng, category in footprints:
            if self.categories is not None and category not in self.categories:
                continue
            if self.distance_to(lat, lng) <= self.radius_km:
                hit = True
                break
        if not hit:
            return None
        lat, lng, _ = footprints[0]
        return round(self.distance_to(lat, lng), 3)
