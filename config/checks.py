"""Deploy checks for what ``check --deploy`` does not know: Channels, Celery, Dealcast's local mode
and the socket router's origin check."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def production_settings_safe(app_configs, **kwargs):
    errors = []
    if settings.LOCAL_MODE:
        errors.append(checks.Error(
            "DEALCAST_LOCAL is on: plain http, insecure cookies and a generated secret key.",
            hint="Unset DEALCAST_LOCAL in production; it is only for `make run` and `make test`.",
            id="dealcast.E002",
        ))
    if "*" in settings.ALLOWED_HOSTS:
        errors.append(checks.Error(
            "ALLOWED_HOSTS contains '*', so the WebSocket origin check accepts any site.",
            hint="List the site's host names.", id="dealcast.E003",
        ))
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if "InMemory" in backend:
        errors.append(checks.Error(
            "The in-memory channel layer reaches only one process.", id="dealcast.E004",
        ))
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        errors.append(checks.Error(
            "Eager Celery runs the relay inside the web request.", id="dealcast.E005",
        ))
    if not settings.SITE_URL.startswith("https://"):
        errors.append(checks.Error(
            "SITE_URL is not an https address: links in mail (password resets, address checks, digests) need it.",
            hint="Set SITE_URL to the site's public address, e.g. https://deals.example.com.", id="dealcast.E007",
        ))
    if len(settings.SECRET_KEY) < 40 or settings.SECRET_KEY.startswith("django-insecure"):
        errors.append(checks.Error("SECRET_KEY is short or a generated insecure one.", id="dealcast.E006"))
    return errors


@checks.register(checks.Tags.security, deploy=True)
def websocket_origin_validated(app_configs, **kwargs):
    from channels.security.websocket import OriginValidator

    from config.asgi import application

    router = application.application_mapping.get("websocket")
    if not isinstance(router, OriginValidator):
        return [
            checks.Error(
                "The websocket router is not wrapped in an origin validator.",
                hint="Wrap it in realtime.origin.SameOriginValidator in config/asgi.py.",
                id="dealcast.E001",
            )
        ]
    return []
