"""Which push services the notifier may send to, and whether a browser's keys can be encrypted for.

A push subscription is a URL the server will POST to on the shopper's behalf, so a URL the shopper
chose would let one account aim the notifier anywhere (its own slow server, an internal host).
Endpoints are checked against ``PUSH_SERVICE_HOSTS`` when a browser subscribes and again before each
send, so narrowing the list stops sends to the hosts it drops.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError

AUTH_SECRET_BYTES = 16
DEFAULT_PORTS = {"https": 443, "http": 80}


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def _entry_matches(entry: str, host: str, port: int) -> bool:
    """``entry`` is ``host[:port]`` or ``*.domain[:port]``: without a port it allows only 443, and
    ``:*`` allows any port (meant for a push service on this machine, as the tests run one)."""
    entry = entry.strip().lower()
    any_port = entry.endswith(":*")
    parts = urlsplit("//" + (entry[:-2] if any_port else entry))
    try:
        entry_port = parts.port or 443
    except ValueError:
        return False
    name = parts.hostname or ""
    if not any_port and entry_port != port:
        return False
    if name.startswith("*."):
        return not _is_ip(host) and host.endswith(name[1:])
    return host == name


def endpoint_problem(endpoint: str) -> str | None:
    """Why the notifier must not send to ``endpoint``, or None when it is on an allowed push service."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return "The push endpoint's port is not a number."
    if parts.scheme not in DEFAULT_PORTS or not host:
        return "A push endpoint is an https address of a push service."
    if parts.username or parts.password:
        return "A push endpoint carries no user name or password."
    if parts.scheme == "http" and not _is_loopback(host):
        return "A push endpoint must use https."
    if not any(_entry_matches(entry, host, port) for entry in settings.PUSH_SERVICE_HOSTS):
        return "Notifications go only to the browsers' push services; this endpoint is on another host."
    return None


def validate_push_endpoint(endpoint: str) -> None:
    problem = endpoint_problem(endpoint)
    if problem:
        raise ValidationError(problem)


def validate_p256dh(value: str) -> None:
    """The browser's public key: an uncompressed point on P-256 (65 bytes), base64url."""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64url(value))
    except (ValueError, binascii.Error):
        raise ValidationError("p256dh is not a P-256 public key (base64url of a 65-byte uncompressed point).") from None


def validate_auth_secret(value: str) -> None:
    try:
        raw = _unb64url(value)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != AUTH_SECRET_BYTES:
        raise ValidationError(f"auth is not a {AUTH_SECRET_BYTES}-byte secret (base64url).")
