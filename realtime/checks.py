"""System checks for what ``check --deploy`` does not know about: the socket router's origin check."""

from __future__ import annotations

from django.core import checks


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
