"""Who is asking: the client's address, as far as our own proxies vouch for it (the login lockout,
the throttles and the logs all take it from here)."""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str:
    """The client's address for the lockout, throttles and logs (set by ``ClientAddressMiddleware``)."""
    return request.META.get("REMOTE_ADDR", "")


class ClientAddressMiddleware:
    """``REMOTE_ADDR`` becomes the address the outermost of ``TRUSTED_PROXY_COUNT`` proxies saw.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``; entries to
    the left of those are whatever the client wrote and are ignored. With no trusted proxy, the
    header is ignored altogether: the TCP peer is the client.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = settings.TRUSTED_PROXY_COUNT
        if count:
            hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
            if len(hops) >= count:
                request.META["REMOTE_ADDR"] = hops[-count]
        return self.get_response(request)
