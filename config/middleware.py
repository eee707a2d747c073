"""Who is asking (the client's address, as far as our own proxies vouch for it) and which request this
is (a correlation id for its log lines and the events it records)."""

from __future__ import annotations

import re
import uuid

from django.conf import settings

from realtime.context import event_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CorrelationIdMiddleware:
    """Takes ``X-Request-ID`` from the balancer when it is sane, else makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        correlation_id = incoming if _SAFE_ID.match(incoming) else str(uuid.uuid4())
        with event_context(correlation_id=correlation_id):
            response = self.get_response(request)
        response["X-Request-ID"] = correlation_id
        return response


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
