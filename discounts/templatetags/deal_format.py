"""How a deal reads on a server-rendered page, in the same words as on the live page (static/js/live.js)."""

from django import template
from django.utils import timezone

register = template.Library()

DIRECTIONS_URL = "https://www.openstreetmap.org/directions?to={lat}%2C{lng}"


@register.filter
def ends_text(ends_at) -> str:
    """"ends in 3 h" while the end is close, "until Sat 20:00" (the city's time) after that."""
    minutes = round((ends_at - timezone.now()).total_seconds() / 60)
    if minutes < 1:
        return "ending now"
    if minutes < 60:
        return f"ends in {minutes} min"
    if minutes < 24 * 60:
        return f"ends in {round(minutes / 60)} h"
    return "until " + timezone.localtime(ends_at).strftime("%a %H:%M")


@register.filter
def directions_url(market) -> str:
    return DIRECTIONS_URL.format(lat=market.lat, lng=market.lng)
