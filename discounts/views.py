from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from discounts import selectors
from discounts.forms import SearchForm
from discounts.selectors import categories_all
from discounts.throttles import throttled_like_the_api
from markets.models import Market
from markets.selectors import city_area

RESULTS_SHOWN = 50


# A visitor's first page: the deals nearest to where their browser says they are, within this, or the
# city's biggest discounts.
VISITOR_RADIUS_KM = 5.0
VISITOR_DEALS = 24


def live(request):
    """The live page for a shopper; for a visitor, the deals around them without an account."""
    if not request.user.is_authenticated:
        return visitor_home(request)
    user = request.user
    context = {
        "categories": categories_all(),
        "config": {
            "saved": (
                {"lat": user.home_lat, "lng": user.home_lng} if user.has_saved_location else None
            ),
            "radius_km": float(user.radius_km),
            "categories": list(user.categories.values_list("slug", flat=True)),
            "notify": user.notify_new_deals,
            "tile_url": settings.MAP_TILE_URL,
            "city": city_area(),
        },
    }
    return render(request, "discounts/live.html", context)


@throttled_like_the_api
def visitor_home(request):
    """Deals near the visitor's location (sent by the page once the browser shares it), else the city's
    best; search, the map and an invitation to sign up for what needs an account."""
    form = SearchForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {}
    lat, lng = params.get("lat"), params.get("lng")
    near = lat is not None and lng is not None
    if near:
        deals = selectors.deals_search(lat=lat, lng=lng, radius_km=VISITOR_RADIUS_KM, ordering="distance")
    else:
        deals = selectors.deals_search(ordering="-percent_off")
    context = {
        "form": SearchForm(), "near": near, "radius_km": VISITOR_RADIUS_KM, "results": deals[:VISITOR_DEALS],
        "pins": selectors.market_pins(deals), "tile_url": settings.MAP_TILE_URL, "city": city_area(),
    }
    return render(request, "discounts/visitor.html", context, status=400 if form.errors else 200)


@throttled_like_the_api
def city(request):
    """The whole city's deals on a map and in a table, for anyone: what a visitor sees before signing up."""
    form = SearchForm(request.GET or None)
    context = {"form": form, "tile_url": settings.MAP_TILE_URL, "city": city_area()}
    params = form.cleaned_data if form.is_valid() else {}
    category = params.get("category")
    deals = selectors.deals_search(
        q=params.get("q") or None, category_ids=[category.pk] if category else None,
        ordering=params.get("ordering") or ("-percent_off" if not params.get("q") else None),
    )
    context["results"] = deals[:RESULTS_SHOWN]
    context["pins"] = selectors.market_pins(deals)
    return render(request, "discounts/city.html", context, status=400 if form.errors else 200)


@throttled_like_the_api
def search(request):
    """Deals by product and category; for a product, its price across markets and its top 5. Open to
    visitors; a shopper's saved location is the default place."""
    user = request.user
    data = request.GET.copy()
    if user.is_authenticated and user.has_saved_location:
        data.setdefault("lat", str(user.home_lat))
        data.setdefault("lng", str(user.home_lng))
    form = SearchForm(data or None)
    context = {"form": form, "searched": bool(request.GET)}
    if form.is_valid():
        params = form.cleaned_data
        lat, lng = params.get("lat"), params.get("lng")
        category = params.get("category")
        context["results"] = selectors.deals_search(
            lat=lat, lng=lng, radius_km=params.get("radius_km") if lat is not None else None,
            q=params.get("q") or None, category_ids=[category.pk] if category else None,
            ordering=params.get("ordering"),
        )[:RESULTS_SHOWN]
        if params.get("q"):
            # One table: the best five by % off for this product are marked in it, not listed again.
            context["top_ids"] = {deal.pk for deal in selectors.deals_top(product=params["q"], limit=5)}
        elif lat is not None:
            context["closest"] = selectors.deals_search(lat=lat, lng=lng, ordering="distance")[:5]
    return render(request, "discounts/search.html", context, status=400 if form.errors else 200)


def _page_url(request, path: str) -> str:
    """The page's address as it is shared (``SITE_URL`` when set, so a link never names a proxy's host)."""
    return (settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")) + path


@throttled_like_the_api
def deal_page(request, pk: int):
    """One deal for anyone: what, how much, until when, where, and the same product elsewhere.

    A deal that ended or was withdrawn answers 410 and says so, without its old price.
    """
    deal = selectors.deal_for_page(deal_id=pk)
    if deal is None:
        raise Http404("No such deal.")
    not_live = selectors.deal_not_live(deal, now=timezone.now())
    context = {
        "deal": deal, "not_live": not_live[0] if not_live else "",
        "others": selectors.deals_same_product(deal),
        "page_url": _page_url(request, reverse("deal", args=[deal.pk])),
        "tile_url": settings.MAP_TILE_URL,
        "place": {"lat": deal.market.lat, "lng": deal.market.lng, "name": deal.market.name, "address": deal.market.address},
    }
    return render(request, "discounts/deal.html", context, status=410 if not_live else 200)


@throttled_like_the_api
def market_page(request, pk: int):
    """One market for anyone: where it is and its deals, the soonest to end first."""
    market = get_object_or_404(Market, pk=pk)
    context = {
        "market": market, "deals": selectors.deals_of_market(market.pk),
        "page_url": _page_url(request, reverse("market", args=[market.pk])),
        "tile_url": settings.MAP_TILE_URL,
        "place": {"lat": market.lat, "lng": market.lng, "name": market.name, "address": market.address},
    }
    return render(request, "discounts/market.html", context)
