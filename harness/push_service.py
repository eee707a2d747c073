"""A push service run by the test, standing in for the browser vendors' (none is reachable here).

It does what a real one does with a message from an application server: checks the VAPID signature
(RFC 8292) against the key in the request, and, playing the browser, decrypts the aes128gcm payload
(RFC 8291) with keys made as a browser makes them (a P-256 key pair and a 16-byte auth secret).
It answers 201, or whatever the test tells it to (410 for a gone subscription, 503 when "down"), and
can play a hostile endpoint (``misbehaving``): one that hangs, trickles, answers 100 MB or redirects.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


TRICKLE_SECONDS = 0.5
HUGE_BYTES = 100 * 1024 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's subscription: its keys, as ``PushManager.subscribe`` would make them."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ))

    @property
    def keys(self) -> dict[str, str]:
        return {"p256dh": self.p256dh, "auth": b64url(self.auth)}


def open_logins(users) -> list[str]:
    """A logged-in session for each user, as a browser would hold after logging in (the site sends
    pushes only to browsers whose login is open); their keys, in order."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    store = SessionStore()
    sessions = [
        Session(
            session_key=store._get_new_session_key(), expire_date=expires,
            session_data=store.encode({
                SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }),
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions, batch_size=2000)
    return [session.session_key for session in sessions]


def subscribe(user, browser: "Browser", *, session_key: str | None = None):
    """The browser's subscription as the site records it: its keys and the login it was turned on in."""
    from notifications.models import PushSubscription

    session_key = session_key or open_logins([user])[0]
    return PushSubscription.objects.create(user=user, endpoint=browser.endpoint, session_key=session_key, **browser.keys)


def verify_vapid(authorization: str, audience: str) -> dict:
    """The claims of a valid ``vapid t=…, k=…`` header for ``audience``; raises ValueError otherwise."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"not a VAPID authorization: {scheme!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    signature = unb64url(signature_b64)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    header, claims = json.loads(unb64url(header_b64)), json.loads(unb64url(claims_b64))
    if header.get("alg") != "ES256":
        raise ValueError(f"VAPID JWT alg {header.get('alg')!r}")
    if claims.get("aud") != audience or claims.get("exp", 0) < time.time() or not str(claims.get("sub", "")).startswith("mailto:"):
        raise ValueError(f"VAPID claims not valid for {audience}: {claims}")
    return {**claims, "k": parts["k"]}


class _Server(ThreadingHTTPServer):
    # A listen backlog like a real push service's: the notifier opens up to a hundred connections at
    # once, and the default of 5 turned most of them into SYN retries seconds long.
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:
        """A sender hanging up on a connection it keeps alive is no error."""
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Received:
    browser: str
    message: dict
    claims: dict
    ttl: str | None
    at: float
    body: bytes


class PushService:
    """Subscriptions live at ``{url}/push/<name>``; each accepted message is decrypted into ``received``."""

    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self.answers: dict[str, int] = {}  # browser name → status to answer instead of 201
        # Browser name → how its endpoint misbehaves, as a hostile or broken push service would:
        # "hang" (answers nothing until ``release`` is set), "trickle" (a byte every TRICKLE_SECONDS),
        # "huge" (a 201 with a HUGE_BYTES body) or "redirect" (a 307 to another browser's endpoint).
        self.misbehaving: dict[str, str] = {}
        self.release = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, misbehaving or not
        self.huge_bytes_sent = 0
        self.down = False
        self._arrived = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as real push services offer: a sender pays a TCP connection per browser host, not per message.
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                service.requests.append(("GET", self.path))
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.requests.append(("POST", self.path))
                how = service.misbehaving.get(self.path.rsplit("/", 1)[-1])
                if how:
                    service.misbehave(self, how)
                    return
                status = service.handle(self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def misbehave(self, handler: BaseHTTPRequestHandler, how: str) -> None:
        try:
            if how == "hang":
                self.release.wait(600)
                handler.close_connection = True
                return
            if how == "redirect":
                target = next((b.endpoint for n, b in self.browsers.items() if n not in self.misbehaving), self.url)
                handler.send_response(307)
                handler.send_header("Location", target)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(201)
            handler.send_header("Content-Length", str(HUGE_BYTES if how == "huge" else 1000))
            handler.end_headers()
            if how == "trickle":
                while not self.release.is_set():
                    handler.wfile.write(b"x")
                    handler.wfile.flush()
                    self.release.wait(TRICKLE_SECONDS)
            elif how == "huge":
                chunk = b"x" * 65536
                for _ in range(HUGE_BYTES // len(chunk)):
                    handler.wfile.write(chunk)
                    self.huge_bytes_sent += len(chunk)
        except OSError:  # the sender hung up, as it should
            pass
        handler.close_connection = True

    def browser(self, name: str) -> Browser:
        self.browsers[name] = Browser(endpoint=f"{self.url}/push/{name}")
        return self.browsers[name]

    def handle(self, path: str, headers, body: bytes) -> int:
        if self.down:
            return 503
        name = path.rsplit("/", 1)[-1]
        browser = self.browsers.get(name)
        if browser is None:
            return 404
        if name in self.answers:
            return self.answers[name]
        try:
            claims = verify_vapid(headers.get("Authorization", ""), self.url)
            if headers.get("Content-Encoding") != "aes128gcm":
                raise ValueError(f"content encoding {headers.get('Content-Encoding')!r}")
            plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm")
            message = json.loads(plain)
        except Exception as exc:  # anything wrong with the request is the sender's bug: count it
            self.rejected.append(f"{name}: {exc!r}")
            return 400
        with self._arrived:
            self.received.append(Received(name, message, claims, headers.get("TTL"), time.time(), body))
            self._arrived.notify_all()
        return 201

    def messages_to(self, name: str) -> list[dict]:
        return [r.message for r in self.received if r.browser == name]

    def wait_for(self, count: int, *, timeout: float = 15.0, browser: str | None = None) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = [r for r in self.received if browser is None or r.browser == browser]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {count} pushes arrived in {timeout}s; rejected: {self.rejected}")
                self._arrived.wait(left)

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
