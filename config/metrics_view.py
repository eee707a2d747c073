"""``GET /metrics`` for Prometheus: loopback, a bearer token or a superuser; everyone else 404."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from notifications.metrics import NotifierCollector
from realtime.metrics import registry, render

# One page for both consumers of the log: the sockets' figures and the notifier's.
registry.register(NotifierCollector())


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header, f"Bearer {token}"):
        return True
    if request.user.is_authenticated and request.user.is_superuser:
        return True
    forwarded = request.headers.get("X-Forwarded-For")
    try:
        return not forwarded and ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_GET
def metrics(request):
    if not _allowed(request):
        raise Http404()
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
