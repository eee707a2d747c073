"""The figures of a market's staff dashboard (read-only; shared by the page's API and its tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import Lower
from django.utils import timezone

from discounts.selectors import deals_active
from eventlog.models import OutboxEvent
from eventlog.vocabulary import PUBLISHED
from markets.selectors import markets_managed_by
from realtime.reach import reach_counts

WINDOW = timedelta(minutes=5)
WINDOWS = 12
MAX_PRODUCTS = 20


def _windows(market_ids: list[int], now: datetime) -> list[dict]:
    start = now - WINDOW * WINDOWS
    counts = [0] * WINDOWS
    created = OutboxEvent.objects.filter(
        market_id__in=market_ids, type=PUBLISHED, created_at__gt=start
    ).values_list("created_at", flat=True)
    for at in created:
        counts[min(WINDOWS - 1, int((at - start) / WINDOW))] += 1
    return [{"start": (start + WINDOW * i).isoformat(), "published": n} for i, n in enumerate(counts)]


def _comparisons(mine: list, market_ids: set[int]) -> list[dict]:
    products = []
    for deal in mine:
        if deal.product.lower() not in [p.lower() for p in products]:
            products.append(deal.product)
    result = []
    for product in products[:MAX_PRODUCTS]:
        # One rule for the rank and the list: markets by their cheapest offer of the product (a market
        # with two deals on it counts once, so the rank is never past the number of markets).
        best_per_market: dict[int, object] = {}
        for deal in deals_active().filter(product__iexact=product).order_by("price", "id"):
            best_per_market.setdefault(deal.market_id, deal)
        ranked = list(best_per_market.values())
        mine_best = next((d for d in ranked if d.market_id in market_ids), None)
        result.append({
            "product": product,
            "markets_with_it": len(ranked),
            "your_price_rank": None if mine_best is None else 1 + sum(d.price < mine_best.price for d in ranked),
            "cheapest_price": str(ranked[0].price) if ranked else None,
            "top": [
                {"market": d.market.name, "price": str(d.price), "percent_off": round(d.percent_off_db, 1),
                 "yours": d.market_id in market_ids}
                for d in ranked[:5]
            ],
        })
    return result


def staff_dashboard(*, user, now: datetime | None = None) -> dict:
    """Active deals with the shoppers they reached, publications per 5 minutes, and the city's best."""
    now = now or timezone.now()
    markets = list(markets_managed_by(user).order_by("name"))
    market_ids = [m.pk for m in markets]
    mine = list(deals_active(now=now).filter(market_id__in=market_ids).order_by(Lower("product"), "price"))
    reached = reach_counts([d.pk for d in mine])
    return {
        "markets": [{"id": m.pk, "name": m.name} for m in markets],
        "active": [
            {"id": d.pk, "product": d.product, "market": d.market.name, "price": str(d.price),
             "original_price": str(d.original_price), "percent_off": round(d.percent_off_db, 1),
             "ends_at": d.ends_at.isoformat(), "reached": reached.get(d.pk)}
            for d in mine
        ],
        "published_last_hour": _windows(market_ids, now),
        "comparisons": _comparisons(mine, set(market_ids)),
        "by_category": list(
            deals_active(now=now).filter(market_id__in=market_ids).values("category__name").annotate(deals=Count("id"))
            .order_by("-deals")
        ),
    }
