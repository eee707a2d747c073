from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from discounts.selectors import categories_all


@login_required
def live(request):
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
        },
    }
    return render(request, "discounts/live.html", context)
