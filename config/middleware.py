"""Request middleware: which request this is (a correlation id for its log lines and the events it
records), and a clear answer when the database cannot serve it."""

from __future__ import annotations

import logging
import re
import uuid

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

from eventlog.context import event_context

logger = logging.getLogger(__name__)

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


class DatabaseUnavailableMiddleware:
    """A request the database cannot serve right now gets 503 with ``Retry-After`` and a message.

    PostgreSQL restarting or unreachable, or every pooled connection busy for longer than
    ``DB_POOL_TIMEOUT_SECONDS`` (seen in ``make bench``: 500 shoppers polling one web process), is the
    service's trouble, not the request's: the client is told to try again, not shown a server error.
    """

    MESSAGE = "The service is busy or its database is briefly unavailable. Try again in a few seconds."
    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": self.MESSAGE}, status=503)
        else:
            response = HttpResponse(self.MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response
