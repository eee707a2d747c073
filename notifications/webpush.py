"""Sending Web Push messages (RFC 8030), encrypted for the browser (RFC 8291, through pywebpush's
encoder) and signed with the application server's VAPID key (RFC 8292).

A push service is a stranger's server as far as one push goes: whatever one endpoint does (refuse,
hang, trickle, redirect, answer gigabytes) must cost only that push. So each message is prepared in
the caller's thread, where a key that cannot be encrypted for is an outcome, not an exception; the
exchange runs on one event loop per process (``PushSender``) under a deadline for the whole of it,
follows no redirect and reads at most ``MAX_ANSWER_BYTES`` of the answer. Connections to each push
service are kept and reused.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPusher

from notifications.per_process import PerProcess
from notifications.push_services import endpoint_problem

# A deal may be gone by tomorrow; the push service drops the message if the browser is away longer.
PUSH_TTL_SECONDS = 12 * 3600
# Push services answer a few bytes (an id, an error text); more is read no further.
MAX_ANSWER_BYTES = 4096
# A VAPID token is good for 12 hours at most (RFC 8292); one is signed per push service and reused.
VAPID_TOKEN_SECONDS = 12 * 3600
VAPID_RENEW_BEFORE_SECONDS = 3600


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    gone: bool = False  # the subscription can never be sent to again (404/410, unusable keys, host not allowed)
    error: str = ""
    failure: str = ""  # the error in one word, for metrics and the admin's filter


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


_vapid_tokens: dict[str, tuple[float, str]] = {}


def _vapid_authorization(audience: str) -> str:
    """The ``Authorization`` header for one push service, signed once and reused until near its expiry."""
    now = time.time()
    cached = _vapid_tokens.get(audience)
    if cached is None or cached[0] - now < VAPID_RENEW_BEFORE_SECONDS:
        expires = int(now) + VAPID_TOKEN_SECONDS
        claims = {"sub": settings.VAPID_SUBJECT, "aud": audience, "exp": expires}
        cached = (expires, _vapid(settings.VAPID_PRIVATE_KEY).sign(claims)["Authorization"])
        _vapid_tokens[audience] = cached
    return cached[1]


@dataclass(frozen=True)
class PreparedPush:
    """One encrypted, signed message for one browser: all that is left is the HTTP exchange."""

    endpoint: str
    headers: dict[str, str]
    body: bytes


def prepare_push(*, endpoint: str, p256dh: str, auth: str, payload: dict) -> PreparedPush | PushOutcome:
    """The request for one browser, or the outcome when none can be made for it."""
    problem = endpoint_problem(endpoint)
    if problem:
        return PushOutcome(ok=False, gone=True, error=problem, failure="host")
    try:
        body = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}).encode(
            json.dumps(payload).encode(), "aes128gcm"
        )["body"]
    except Exception as exc:  # noqa: BLE001 - any key the encoder cannot use ends this subscription, not the batch
        return PushOutcome(ok=False, gone=True, error=f"cannot encrypt for this browser's keys: {exc}"[:300], failure="keys")
    parts = urlsplit(endpoint)
    headers = {
        "Authorization": _vapid_authorization(f"{parts.scheme}://{parts.netloc}"),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(PUSH_TTL_SECONDS),
        "Urgency": "normal",
    }
    return PreparedPush(endpoint=endpoint, headers=headers, body=body)


def _outcome_of(status: int) -> PushOutcome:
    if 200 <= status < 300:
        return PushOutcome(ok=True)
    if status in (404, 410):
        return PushOutcome(ok=False, gone=True, error=f"push service answered {status}", failure="gone")
    if 300 <= status < 400:
        return PushOutcome(ok=False, error=f"push service redirected ({status}); redirects are not followed", failure="redirect")
    return PushOutcome(ok=False, error=f"push service answered {status}", failure="status")


class PushSender:
    """One event loop thread and one HTTP client per process: every push runs concurrently, at most
    ``NOTIFY_PUSH_CONCURRENCY`` at a time, each within ``NOTIFY_PUSH_TIMEOUT_SECONDS`` from when it
    starts to when its answer is read."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, name="push-sender", daemon=True).start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open())
        self._ready.set()
        self._loop.run_forever()

    async def _open(self) -> None:
        concurrency = settings.NOTIFY_PUSH_CONCURRENCY
        self._slots = asyncio.Semaphore(concurrency)
        # aiohttp rather than httpx: httpcore's pool rescans every connection for every request, which
        # made most of the notifier's CPU at a hundred connections (py-spy; docs/events.md).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=settings.NOTIFY_PUSH_TIMEOUT_SECONDS),
            auto_decompress=False,
        )

    def send(self, requests: dict[int, PreparedPush], *, not_after: float) -> Future[dict[int, PushOutcome]]:
        """Send each request (keyed by subscription); a request that has not started by ``not_after``
        (``time.monotonic()``) is not sent at all and comes back as a failure to retry."""
        return asyncio.run_coroutine_threadsafe(self._send_all(requests, not_after), self._loop)

    async def _send_all(self, requests: dict[int, PreparedPush], not_after: float) -> dict[int, PushOutcome]:
        outcomes = await asyncio.gather(*(self._send_one(request, not_after) for request in requests.values()))
        return dict(zip(requests, outcomes))

    async def _send_one(self, request: PreparedPush, not_after: float) -> PushOutcome:
        async with self._slots:
            if time.monotonic() > not_after:
                return PushOutcome(ok=False, error="not sent: waited too long for a free connection", failure="queued")
            try:
                async with asyncio.timeout(settings.NOTIFY_PUSH_TIMEOUT_SECONDS):
                    return await self._exchange(request)
            except TimeoutError:
                return PushOutcome(
                    ok=False, error=f"push service took over {settings.NOTIFY_PUSH_TIMEOUT_SECONDS:g}s", failure="timeout"
                )
            except (aiohttp.ClientError, ValueError) as exc:
                return PushOutcome(ok=False, error=f"push service unreachable: {exc.__class__.__name__}", failure="unreachable")

    async def _exchange(self, request: PreparedPush) -> PushOutcome:
        async with self._session.post(
            request.endpoint, data=request.body, headers=request.headers, allow_redirects=False
        ) as answer:
            read = 0
            # Raw bytes (a compressed answer is never inflated); leaving unread bytes closes the connection.
            async for chunk in answer.content.iter_any():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES:
                    break
            return _outcome_of(answer.status)


_senders: PerProcess[PushSender] = PerProcess(PushSender)


def push_sender() -> PushSender:
    """This process's sender, made on first use."""
    return _senders.get()
