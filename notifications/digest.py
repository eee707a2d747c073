"""The daily e-mail digest: the best new deals in the shopper's area and their watched products.

Each (shopper, day) gets one ``DigestMail`` row before anything is sent, so the day's digest goes out
once however often the sweep runs; an SMTP failure retries with backoff and becomes a dead letter
after ``NOTIFY_MAX_ATTEMPTS``. Only a verified address gets one. Every mail carries a one-click
unsubscribe link (RFC 8058) that needs no login: a signed token names the shopper and the
subscription, and expires.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from discounts.selectors import deals_search
from notifications.models import DigestMail, NotificationPreferences

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.digest.unsubscribe"
DEALS_IN_A_DIGEST = 10
DEALS_PER_WATCH = 3
LEASE = timedelta(minutes=5)


def _subscription_mark(prefs: NotificationPreferences) -> str:
    return prefs.digest_since.isoformat() if prefs.digest_since else ""


def unsubscribe_token(prefs: NotificationPreferences) -> str:
    """A link that turns off this digest subscription of this shopper and nothing else: it names the
    purpose (the salt), the shopper and when the digest was turned on, and expires."""
    return signing.dumps({"u": prefs.user_id, "s": _subscription_mark(prefs)}, salt=UNSUBSCRIBE_SALT, compress=True)


def preferences_from_unsubscribe_token(token: str) -> NotificationPreferences | None:
    """The digest subscription the token was made for, or None when it is not one of ours, has
    expired, or that subscription has ended since (turned off, perhaps on again)."""
    try:
        claim = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=timedelta(days=settings.DIGEST_UNSUBSCRIBE_DAYS))
        user_id, mark = claim["u"], claim["s"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    prefs = NotificationPreferences.objects.filter(user_id=user_id, digest=NotificationPreferences.Digest.DAILY).first()
    if prefs is None or _subscription_mark(prefs) != mark:
        return None
    return prefs


def _digest_content(user, since: datetime) -> dict | None:
    new_deals = []
    if user.has_saved_location:
        new_deals = list(
            deals_search(
                lat=user.home_lat, lng=user.home_lng, radius_km=float(user.radius_km),
                category_ids=list(user.categories.values_list("id", flat=True)) or None, ordering="-percent_off",
            ).filter(starts_at__gt=since)[:DEALS_IN_A_DIGEST]
        )
    watched = []
    for watch in user.watched_products.all():
        deals = deals_search(
            q=watch.text, ordering="price",
            **({"lat": user.home_lat, "lng": user.home_lng, "radius_km": float(user.radius_km)} if user.has_saved_location else {}),
        )
        if watch.target_price is not None:
            deals = deals.filter(price__lte=watch.target_price)
        found = list(deals[:DEALS_PER_WATCH])
        if found:
            watched.append({"watch": watch, "deals": found})
    if not new_deals and not watched:
        return None
    return {"user": user, "new_deals": new_deals, "watched": watched, "site_url": settings.SITE_URL}


def _send(digest: DigestMail) -> None:
    user = digest.user
    content = _digest_content(user, digest.since)
    if content is None:
        digest.state = DigestMail.State.EMPTY
        digest.save(update_fields=["state"])
        return
    prefs = NotificationPreferences.objects.get(user=user)
    unsubscribe = settings.SITE_URL + reverse("digest-unsubscribe", args=[unsubscribe_token(prefs)])
    context = {**content, "unsubscribe_url": unsubscribe, "day": digest.day}
    mail = EmailMultiAlternatives(
        subject=render_to_string("notifications/digest_subject.txt", context).strip(),
        body=render_to_string("notifications/digest.txt", context),
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    mail.attach_alternative(render_to_string("notifications/digest.html", context), "text/html")
    mail.send()
    digest.state, digest.sent_at = DigestMail.State.SENT, timezone.now()
    digest.save(update_fields=["state", "sent_at"])
    NotificationPreferences.objects.filter(user=user).update(last_digest_at=digest.sent_at)


def schedule_todays_digests(*, now: datetime | None = None) -> int:
    """Write today's digest rows for the shoppers who want one, once the digest hour has come."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.hour < settings.DIGEST_HOUR:
        return 0
    wanting = NotificationPreferences.objects.filter(
        digest=NotificationPreferences.Digest.DAILY, user__is_active=True, user__email_verified=True
    ).exclude(user__email="").values_list("user_id", "last_digest_at")
    rows = [DigestMail(user_id=user_id, day=local.date(), since=last or now - timedelta(days=1), due_at=now)
            for user_id, last in wanting]
    return len(DigestMail.objects.bulk_create(rows, ignore_conflicts=True))


def send_due_digests(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    schedule_todays_digests(now=now)
    with transaction.atomic():
        due = list(
            DigestMail.objects.select_for_update(skip_locked=True)
            .filter(state=DigestMail.State.PENDING, due_at__lte=now).select_related("user")[:200]
        )
        DigestMail.objects.filter(pk__in=[d.pk for d in due]).update(due_at=now + LEASE)
    for digest in due:
        try:
            _send(digest)
        except (smtplib.SMTPException, OSError) as exc:
            digest.attempts += 1
            digest.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
            if digest.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                digest.state = DigestMail.State.DEAD
            else:
                digest.due_at = now + timedelta(seconds=settings.NOTIFY_BACKOFF_SECONDS * 2 ** (digest.attempts - 1))
            digest.save(update_fields=["attempts", "last_error", "state", "due_at"])
            logger.warning("digest %s not sent (attempt %s): %s", digest.pk, digest.attempts, digest.last_error)
    return len(due)


def retry_dead(*, rows) -> int:
    """Put dead digests back in line (admin action)."""
    return rows.filter(state=DigestMail.State.DEAD).update(
        state=DigestMail.State.PENDING, attempts=0, due_at=timezone.now(), last_error=""
    )
