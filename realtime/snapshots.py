"""Snapshots of an area from a per-process copy of the city's deals, kept as of one log position.

A socket's snapshot used to be an ORM query of its own (the distance expression compiled, the rows
loaded and rendered), the largest part of the CPU a connect cost. Shoppers differ in their areas but
share the city: each web process keeps the deals that are or will become visible, rendered once, as
of a log position, and reloads them when the log has moved. An area's snapshot is then a filter by
exact distance, categories and validity window over that copy.

It is exact for the position it names: the copy is loaded after its position was read, and an event
only gets a position once its change committed, so every event at or below the position is
reflected. Later events may repeat what the copy shows; applying them again is harmless.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from discounts.models import Discount
from discounts.serializers import deal_data
from markets.geo import bounding_box, distance_km
from realtime.subscriptions import Subscription

SNAPSHOT_LIMIT = 500
# Past this many deals in the city, a copy per process costs more than it saves: query per area.
MAX_CACHED_DEALS = 20_000


@dataclass(frozen=True, slots=True)
class CachedDeal:
    data: dict[str, Any]
    lat: float
    lng: float
    category: int
    price: Decimal
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CityCopy:
    """The deals sorted by latitude, so an area's snapshot looks only at its own band of the city."""

    deals: list[CachedDeal]
    lats: list[float]

    @classmethod
    def of(cls, deals: list[CachedDeal]) -> "CityCopy":
        deals = sorted(deals, key=lambda deal: deal.lat)
        return cls(deals, [deal.lat for deal in deals])


@dataclass(frozen=True)
class Snapshot:
    deals: list[dict[str, Any]]
    head: int
    epoch: str


class CityDeals:
    """The city's current and coming deals as of one log mark (one copy per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mark: tuple[int, str] | None = None
        self.copy: CityCopy | None = None

    def at(self, mark: tuple[int, str]) -> CityCopy | None:
        """The copy as of ``mark`` (head, id of the event there), reloaded if the log moved; None when
        the city is too big to copy.

        Precondition: ``mark`` was read from the log before this call.
        """
        with self._lock:
            if self.mark != mark:
                self.copy = self._load()
                self.mark = mark
            return self.copy

    @staticmethod
    def _load() -> CityCopy | None:
        rows = list(
            Discount.objects.filter(state=Discount.State.ACTIVE, ends_at__gt=timezone.now())
            .select_related("market", "category")[: MAX_CACHED_DEALS + 1]
        )
        if len(rows) > MAX_CACHED_DEALS:
            return None
        return CityCopy.of([
            CachedDeal(deal_data(d), d.market.lat, d.market.lng, d.category_id, d.price, d.starts_at, d.ends_at)
            for d in rows
        ])


city = CityDeals()


def snapshot_from_copy(copy: CityCopy, sub: Subscription, head: int, epoch: str) -> Snapshot:
    """What ``deals_search(..., ordering="distance")`` returns for the area, from the copy."""
    now = timezone.now()
    box = bounding_box(sub.lat, sub.lng, sub.radius_km)
    matched = []
    for deal in copy.deals[bisect_left(copy.lats, box.min_lat):bisect_right(copy.lats, box.max_lat)]:
        if not deal.starts_at <= now < deal.ends_at:
            continue
        if sub.categories is not None and deal.category not in sub.categories:
            continue
        distance = distance_km(sub.lat, sub.lng, deal.lat, deal.lng)
        if distance <= sub.radius_km:
            matched.append((distance, deal.price, deal.data["id"], deal))
    matched.sort(key=lambda row: row[:3])
    return Snapshot(
        deals=[{**deal.data, "distance_km": round(distance, 3)} for distance, _, _, deal in matched[:SNAPSHOT_LIMIT]],
        head=head,
        epoch=epoch,
    )
