"""What one shopper's connection (or poll) wants to see."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from discounts.selectors import category_ids_for
from eventlog.vocabulary import SHOWING, WITHDRAWN
from markets.geo import EARTH_RADIUS_KM, clean_lat, clean_lng, clean_radius_km, covering_cells, distance_km

MAX_CATEGORIES = 50
KM_PER_DEGREE_OF_LATITUDE = EARTH_RADIUS_KM * math.pi / 180
# Rounding slack for the latitude test below, far under a metre.
LATITUDE_SLACK_KM = 1e-6


@dataclass(frozen=True, slots=True)
class Subscription:
    lat: float
    lng: float
    radius_km: float
    categories: frozenset[int] | None
    # A tuple: a socket holds it for its life, and a frozenset of ~9 names is ~0.7 KB more.
    cells: tuple[str, ...]

    @classmethod
    def build(
        cls, *, lat: Any, lng: Any, radius_km: Any, categories: Any = None,
        category_ids: Collection[int] | None = None,
    ) -> "Subscription":
        """Validate raw input; raises ``InvalidLocation`` or ``ValueError`` with a message for the user.

        ``categories`` are slugs from the client, current or replaced by a rename (a database read);
        ``category_ids`` are ids the caller already holds.
        """
        lat, lng, radius = clean_lat(lat), clean_lng(lng), clean_radius_km(radius_km)
        if categories is not None:
            if not isinstance(categories, (list, tuple)) or not all(isinstance(c, str) for c in categories):
                raise ValueError("categories must be a list of category slugs.")
            if len(categories) > MAX_CATEGORIES:
                raise ValueError(f"At most {MAX_CATEGORIES} categories.")
            if categories:
                category_ids = category_ids_for(categories)
        cats = frozenset(category_ids) if category_ids else None
        if categories and not cats:
            cats = frozenset()
        return cls(lat, lng, radius, cats, tuple(covering_cells(lat, lng, radius)))

    def distance_to(self, lat: float, lng: float) -> float:
        return distance_km(self.lat, self.lng, lat, lng)

    def covers(self, footprint: list[Any]) -> bool:
        lat, lng, category = footprint
        if self.categories is not None and category not in self.categories:
            return False
        return self.distance_to(lat, lng) <= self.radius_km

    def match(self, footprints: list[list[Any]]) -> float | None:
        """The deal's current distance if any footprint (now or before the change) is in this area.

        Footprints are ``[lat, lng, category_id]``, the current one first; a deal that left the area
        still matches on its old footprint so the shopper learns it is gone (see ``left``).
        """
        # Inline rather than ``covers()``: this runs for every socket an event may concern, and most
        # of those it turns away (their cells reach past their circle). A point farther north or
        # south than the radius is farther than the radius, so latitude alone turns many away.
        for index, (lat, lng, category) in enumerate(footprints):
            if self.categories is not None and category not in self.categories:
                continue
            if abs(lat - self.lat) * KM_PER_DEGREE_OF_LATITUDE > self.radius_km + LATITUDE_SLACK_KM:
                continue
            distance = self.distance_to(lat, lng)
            if distance <= self.radius_km:
                break
        else:
            return None
        if index:
            lat, lng, _ = footprints[0]
            distance = self.distance_to(lat, lng)
        return round(distance, 3)

    def left(self, footprints: list[list[Any]]) -> bool:
        """Whether a matched event moved its deal out of this area (market or category changed)."""
        return len(footprints) > 1 and not self.covers(footprints[0])

    def envelope_for(self, event_type: str, envelope: dict[str, Any], footprints: list[list[Any]]) -> dict[str, Any]:
        """The envelope as this subscriber gets it: a deal that left the area arrives as withdrawn."""
        if event_type in SHOWING and self.left(footprints):
            return {**envelope, "type": WITHDRAWN}
        return envelope


def saved_area(user) -> Subscription | None:
    """The area a shopper saved on their account, if any (reads their categories)."""
    if not user.has_saved_location:
        return None
    return Subscription.build(
        lat=user.home_lat, lng=user.home_lng, radius_km=float(user.radius_km),
        category_ids=list(user.categories.values_list("id", flat=True)),
    )
