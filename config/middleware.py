"""Which request this is: a correlation id for its log lines and the events it records."""

from __future__ import annotations

import re
import uuid

from eventlog.context import event_context

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
