from __future__ import annotations

from django.db.models import QuerySet

from markets.models import Market


def markets_managed_by(user) -> QuerySet[Market]:
    """The markets whose discounts ``user`` may manage: all for superusers, their own for staff."""
    if not user.is_authenticated or not user.is_active:
        return Market.objects.none()
    if user.is_superuser:
        return Market.objects.all()
    return Market.objects.filter(staff=user)


def user_manages_market(user, market_id: int) -> bool:
    return markets_managed_by(user).filter(pk=market_id).exists()


# Where the page looks before it knows where the shopper is, when the city has no markets yet.
FALLBACK_CENTER = (52.52, 13.405)


def city_area() -> dict[str, float]:
    """The middle of the city's markets and a radius that reaches them all (within the allowed one)."""
    from django.db.models import Avg

    from markets.geo import MAX_RADIUS_KM, MIN_RADIUS_KM, distance_km

    middle = Market.objects.aggregate(lat=Avg("lat"), lng=Avg("lng"))
    if middle["lat"] is None:
        return {"lat": FALLBACK_CENTER[0], "lng": FALLBACK_CENTER[1], "radius_km": MAX_RADIUS_KM}
    farthest = max(
        distance_km(middle["lat"], middle["lng"], lat, lng) for lat, lng in Market.objects.values_list("lat", "lng")
    )
    radius = min(MAX_RADIUS_KM, max(MIN_RADIUS_KM, float(int(farthest) + 1)))
    return {"lat": middle["lat"], "lng": middle["lng"], "radius_km": radius}


MAX_PLACES = 500


def places_to_find() -> list[dict]:
    """Places a shopper can find by name without an outside geocoder: the city's markets and their streets."""
    return [
        {"label": f"{name} — {address}", "lat": lat, "lng": lng}
        for name, address, lat, lng in Market.objects.order_by("name").values_list("name", "address", "lat", "lng")[:MAX_PLACES]
    ]
