"""Sockets from this site's own pages only: the Origin must equal the site's origin in full.

Channels' ``AllowedHostsOriginValidator`` compares the host alone, so ``http://127.0.0.1:9999``,
``https://localhost`` and ``chrome-extension://127.0.0.1`` passed, and a socket's snapshot carries
distances from the shopper's saved home. Here scheme, host and port must match the origin the socket
itself was opened on (its ``Host`` header, on a host in ``ALLOWED_HOSTS``, with ``https`` when the
connection or the TLS proxy in front says so), or one of ``CSRF_TRUSTED_ORIGINS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, or None for anything else."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def own_origin(scope) -> tuple[str, str, int] | None:
    """The origin of the page that may open this socket: the socket's own scheme, host and port."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") == "wss"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header is not None:
        forwarded = _header(scope, proxy_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode())
        secure = secure or (forwarded or "").split(",")[0].strip() == proxy_header[1]
    return normalise(f"{'https' if secure else 'http'}://{host}")


class SameOriginValidator(OriginValidator):
    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        allowed = {own_origin(scope)} | {normalise(o) for o in settings.CSRF_TRUSTED_ORIGINS}
        allowed.discard(None)
        if origin is not None and normalise(origin) in allowed:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
