"""Reads of deals, shared by the pages, the API and the live socket's snapshot."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramStrictWordSimilarity
from django.db.models import Count, ExpressionWrapper, F, FloatField, Min, Q, QuerySet, Value
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt
from django.utils import timezone

from discounts.models import Category, Discount
from markets.geo import EARTH_RADIUS_KM, bounding_box
from markets.models import Market

ORDERINGS = {
    "distance": ("distance_km", "price", "id"),
    "price": ("price", "id"),
    "-percent_off": ("-percent_off_db", "price", "id"),
}


def _haversine_km(lat: float, lng: float, *, lat_field: str, lng_field: str):
    """Haversine distance to (lat, lng) in km, computed by PostgreSQL."""
    dlat = Radians(F(lat_field) - Value(lat)) / 2
    dlng = Radians(F(lng_field) - Value(lng)) / 2
    a = Power(Sin(dlat), 2) + Cos(Radians(Value(lat))) * Cos(Radians(F(lat_field))) * Power(Sin(dlng), 2)
    return ExpressionWrapper(2 * EARTH_RADIUS_KM * ASin(Least(Sqrt(a), Value(1.0))), output_field=FloatField())


def _distance_expression(lat: float, lng: float):
    """A deal's distance: its market's."""
    return _haversine_km(lat, lng, lat_field="market__lat", lng_field="market__lng")


def _market_distance_expression(lat: float, lng: float):
    return _haversine_km(lat, lng, lat_field="lat", lng_field="lng")


def category_ids_for(slugs: Iterable[str]) -> frozenset[int]:
    """The categories these slugs name now or named before a rename; unknown slugs name none.

    A slug that is some category's current slug names that one only, even if another category used it
    before.
    """
    wanted = set(slugs)
    if not wanted:
        return frozenset()
    rows = Category.objects.filter(Q(slug__in=wanted) | Q(former_slugs__overlap=list(wanted))).values_list(
        "id", "slug", "former_slugs"
    )
    current = {slug for _, slug, _ in rows if slug in wanted}
    return frozenset(
        pk for pk, slug, former in rows if slug in wanted or (set(former) & wanted) - current
    )


def deals_active(*, now: datetime | None = None) -> QuerySet[Discount]:
    """Deals a shopper may see now: active and inside their validity window."""
    now = now or timezone.now()
    return (
        Discount.objects.filter(state=Discount.State.ACTIVE, starts_at__lte=now, ends_at__gt=now)
        .select_related("market", "category")
        .annotate(
            percent_off_db=ExpressionWrapper(
                (1 - F("price") / F("original_price")) * 100, output_field=FloatField()
            )
        )
    )


def deals_search(
    *,
    lat: float | None = None,
    lng: float | None = None,
    radius_km: float | None = None,
    q: str | None = None,
    category_ids: Collection[int] | None = None,
    ordering: str | None = None,
    now: datetime | None = None,
) -> QuerySet[Discount]:
    """Active deals filtered by area, product text and categories (``category_ids_for`` turns slugs into ids).

    Precondition: coordinates and radius are already validated (``markets.geo.clean_*``). With a
    location, each deal carries ``distance_km``; without one, ``distance`` ordering falls back to price.
    """
    deals = deals_active(now=now)
    if q and q.strip():
        deals = _matching_text(deals, q.strip())
    if category_ids is not None:
        deals = deals.filter(category_id__in=category_ids)
    has_location = lat is not None and lng is not None
    if has_location:
        deals = deals.annotate(distance_km=_distance_expression(lat, lng))
        if radius_km is not None:
            box = bounding_box(lat, lng, radius_km)
            deals = deals.filter(
                market__lat__gte=box.min_lat, market__lat__lte=box.max_lat,
                market__lng__gte=box.min_lng, market__lng__lte=box.max_lng,
                distance_km__lte=radius_km,
            )
    if ordering is None and q and q.strip():
        return deals.order_by("-relevance", "price", "id")
    order = ordering or ("distance" if has_location else "price")
    if order == "distance" and not has_location:
        order = "price"
    return deals.order_by(*ORDERINGS[order])


# How alike the query must be to whole words of the product (pg_trgm's strict_word_similarity):
# "yogurt" ~ "yoghurt" 0.5, "choclate" ~ "chocolate" 0.58, while "milk" ~ "minced" is 0.2. Plain
# word_similarity compares with any stretch of letters ("milk" ~ "Minced beef" 0.4), which answered
# "milk" with minced beef; the labelled queries in discounts/tests/test_search_quality.py set the bar.
WORD_SIMILARITY = 0.45
# Shorter queries match only whole stemmed words: two letters begin too many words.
PREFIX_MIN_LENGTH = 3


def _product_match(text: str) -> tuple[Q, SearchQuery]:
    """Deals whose product is what ``text`` asks for: its words (stemmed: "apples" finds "Apple"), a
    spelling variant of them, or the beginning of one of its words ("choc")."""
    query = SearchQuery(text, config="english", search_type="websearch")
    match = Q(product_document=query) | Q(similarity__gte=WORD_SIMILARITY)
    if len(text) >= PREFIX_MIN_LENGTH:
        match |= Q(product__iregex=r"\m" + re.escape(text))
    return match, query


def _matching_text(deals: QuerySet[Discount], text: str) -> QuerySet[Discount]:
    """Deals whose product matches ``text``; when no product does, deals in a category whose name
    does ("dairy", "vegetables"). Each carries a ``relevance`` to rank them."""
    product_document = SearchVector("product", config="english")
    match, query = _product_match(text)
    deals = deals.annotate(
        product_document=product_document,
        relevance=SearchRank(product_document, query) + TrigramStrictWordSimilarity(text, "product"),
        similarity=TrigramStrictWordSimilarity(text, "product"),
    )
    products = deals.filter(match)
    if products.exists():
        return products
    category_document = SearchVector("category__name", config="english")
    return deals.annotate(category_document=category_document).filter(category_document=query)


def market_pins(deals: QuerySet[Discount]) -> list[dict]:
    """One pin per market among ``deals``: where it is, how many of them it has, and its best price."""
    rows = (
        deals.order_by()
        .values("market_id", "market__name", "market__address", "market__lat", "market__lng", "currency")
        .annotate(deals=Count("id"), best_price=Min("price"))
        .order_by("market__name", "currency")
    )
    pins: dict[int, dict] = {}
    for row in rows:
        # A market pricing in two currencies keeps its first one's best price; the count covers both.
        pin = pins.setdefault(row["market_id"], {
            "id": row["market_id"], "name": row["market__name"], "address": row["market__address"],
            "lat": row["market__lat"], "lng": row["market__lng"], "deals": 0,
            "best_price": f"{row['best_price']} {row['currency']}",
        })
        pin["deals"] += row["deals"]
    return list(pins.values())


def deals_compare(*, product: str, lat: float | None = None, lng: float | None = None) -> QuerySet[Discount]:
    """One product's active deals across markets, cheapest first."""
    return deals_search(q=product, lat=lat, lng=lng, ordering="price")


def deals_top(*, product: str | None = None, limit: int = 5) -> QuerySet[Discount]:
    """The best deals by percent off, for one product or overall."""
    return deals_search(q=product, ordering="-percent_off")[:limit]


def deal_for_page(*, deal_id: int) -> Discount | None:
    """One deal in any state, with its market and category: its page says so when it is not live."""
    return Discount.objects.select_related("market", "category").filter(pk=deal_id).first()


def deal_not_live(deal: Discount, *, now: datetime) -> tuple[str, datetime | None] | None:
    """Why shoppers cannot take ``deal`` now, and since when; None while it is live."""
    if deal.is_visible_at(now):
        return None
    if deal.state == Discount.State.WITHDRAWN:
        return "The market withdrew this deal.", deal.updated_at
    if deal.state == Discount.State.DRAFT:
        return "This deal is not published.", None
    if deal.starts_at > now:
        return "This deal has not started yet.", None
    return "This deal has ended.", deal.ends_at


def deals_same_product(deal: Discount, *, limit: int = 10) -> QuerySet[Discount]:
    """Other markets' active deals on the very product (as the markets typed it), cheapest first."""
    return deals_active().filter(product__iexact=deal.product).exclude(pk=deal.pk).order_by("price", "id")[:limit]


def deals_of_market(market_id: int) -> QuerySet[Discount]:
    """A market's active deals, the soonest to end first."""
    return deals_active().filter(market_id=market_id).order_by("ends_at", "id")


def markets_search(
    *, lat: float | None = None, lng: float | None = None, radius_km: float | None = None
) -> QuerySet[Market]:
    """Markets (near a point, nearest first, when one is given), each with its number of active deals.

    Precondition: coordinates and radius are already validated (``markets.geo.clean_*``).
    """
    now = timezone.now()
    active = Q(discounts__state=Discount.State.ACTIVE, discounts__starts_at__lte=now, discounts__ends_at__gt=now)
    markets = Market.objects.annotate(active_deals=Count("discounts", filter=active))
    if lat is None or lng is None:
        return markets.order_by("name", "id")
    markets = markets.annotate(distance_km=_market_distance_expression(lat, lng))
    if radius_km is not None:
        box = bounding_box(lat, lng, radius_km)
        markets = markets.filter(
            lat__gte=box.min_lat, lat__lte=box.max_lat, lng__gte=box.min_lng, lng__lte=box.max_lng,
            distance_km__lte=radius_km,
        )
    return markets.order_by("distance_km", "id")


def categories_all() -> QuerySet[Category]:
    return Category.objects.order_by("name")


def discounts_managed_by(user) -> QuerySet[Discount]:
    """Every discount (any state) of the markets ``user`` manages."""
    from markets.selectors import markets_managed_by

    return Discount.objects.filter(market__in=markets_managed_by(user)).select_related("market", "category")


def discounts_due_for_schedule(*, now: datetime) -> QuerySet[Discount]:
    """Deals whose visibility changed with the clock: start reached but unlisted, or end passed but listed."""
    return Discount.objects.filter(
        Q(listed=False, state=Discount.State.ACTIVE, starts_at__lte=now, ends_at__gt=now)
        | Q(listed=True, ends_at__lte=now)
    )
