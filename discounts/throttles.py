"""Search pages count against the same budgets as the API (``THROTTLE_ANON``, ``THROTTLE_USER``): a
page that runs the same queries must not be the way around the API's limits."""

from __future__ import annotations

import functools

from django.shortcuts import render
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


def throttled_like_the_api(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        throttle = UserRateThrottle() if request.user.is_authenticated else AnonRateThrottle()
        if not throttle.allow_request(request, None):
            wait = max(1, int(throttle.wait() or 1))
            response = render(request, "429.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper
