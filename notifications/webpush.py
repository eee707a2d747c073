"""Sending one Web Push message (RFC 8030) encrypted for the browser (RFC 8291) and signed with the
application server's VAPID key (RFC 8292), through pywebpush."""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

# A deal may be gone by tomorrow; the push service drops the message if the browser is away longer.
PUSH_TTL_SECONDS = 12 * 3600
_session = requests.Session()


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    gone: bool = False  # the push service says the subscription no longer exists (404/410)
    error: str = ""


def push_enabled() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY)


@functools.cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key)


def application_server_key() -> str:
    """The VAPID public key as browsers take it in ``pushManager.subscribe`` (base64url, uncompressed point)."""
    public = _vapid(settings.VAPID_PRIVATE_KEY).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(public).rstrip(b"=").decode()


def send_push(*, endpoint: str, p256dh: str, auth: str, payload: dict) -> PushOutcome:
    try:
        webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload),
            vapid_private_key=_vapid(settings.VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=PUSH_TTL_SECONDS,
            timeout=settings.NOTIFY_PUSH_TIMEOUT_SECONDS,
            headers={"Urgency": "normal"},
            requests_session=_session,
        )
    except WebPushException as exc:
        status = exc.status_code
        return PushOutcome(ok=False, gone=status in (404, 410), error=f"push service answered {status}")
    except requests.RequestException as exc:
        return PushOutcome(ok=False, error=f"push service unreachable: {exc.__class__.__name__}")
    return PushOutcome(ok=True)
