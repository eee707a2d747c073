from __future__ import annotations

from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User

EMAIL_VERIFICATION_SALT = "accounts.email.verify"
# The worker's tasks (accounts/tasks.py), named rather than imported: they call these services.
SEND_EMAIL_VERIFICATION = "accounts.tasks.send_email_verification"
SEND_PASSWORD_RESET = "accounts.tasks.send_password_reset"


class EmailNotVerified(Exception):
    """A verification link that does not verify: its message says why, for the person holding it."""


@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> User:
    user = User.objects.create_user(username=username, email=email, password=password)
    if email:
        email_verification_request(user=user)
    return user


@transaction.atomic
def user_set_preferences(*, user: User, home_lat, home_lng, radius_km, categories, notify_new_deals: bool) -> User:
    user.home_lat, user.home_lng = home_lat, home_lng
    user.radius_km = radius_km
    user.notify_new_deals = notify_new_deals
    user.full_clean(exclude=["password"])
    user.save(update_fields=["home_lat", "home_lng", "radius_km", "notify_new_deals"])
    user.categories.set(categories)
    return user


def email_verification_request(*, user: User) -> None:
    """Mail the account's address a link that proves it, from the worker once this commits.

    Robust: with Redis away the account is still made (the link can be asked for again later).
    """
    transaction.on_commit(lambda: current_app.send_task(SEND_EMAIL_VERIFICATION, (user.pk,)), robust=True)


def email_verification_send(*, user_id: int) -> bool:
    """Send the link (the worker's side); False when there is nothing to verify any more."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or user.email_verified:
        return False
    token = signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=EMAIL_VERIFICATION_SALT)
    context = {
        "user": user, "link": settings.SITE_URL + reverse("verify-email", args=[token]),
        "days": settings.EMAIL_VERIFICATION_DAYS,
    }
    send_mail(
        render_to_string("registration/verify_email_subject.txt", context).strip(),
        render_to_string("registration/verify_email.txt", context), None, [user.email],
    )
    return True


def email_verify(*, token: str) -> User:
    """Mark the address the token was made for as the account's own; raises ``EmailNotVerified``."""
    try:
        claim = signing.loads(token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_DAYS * 86400)
    except signing.SignatureExpired:
        raise EmailNotVerified("This link has expired. Log in and ask for a new one under Notifications.") from None
    except signing.BadSignature:
        raise EmailNotVerified("This link is not one of ours, or your mail program cut it off.") from None
    user = User.objects.filter(pk=claim["u"], is_active=True).first()
    if user is None or user.email.lower() != claim["e"]:
        raise EmailNotVerified("This link is for an address the account no longer has.")
    if not user.email_verified:
        try:
            with transaction.atomic():
                user.email_verified = True
                user.save(update_fields=["email_verified"])
        except IntegrityError:
            raise EmailNotVerified("This address already belongs to another account. Log in to that one.") from None
    return user


def password_reset_request(*, email: str) -> None:
    """Hand the reset mail to the worker: the request takes as long whether or not the address has an
    account, and what the mail server does costs it nothing."""
    current_app.send_task(SEND_PASSWORD_RESET, (email,), retry=False)


def password_reset_send(*, email: str) -> None:
    """Mail a reset link to each active account with this address (Django's rules), its host and port
    from ``SITE_URL``, never from the request that asked."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    site = urlsplit(settings.SITE_URL)
    form.save(domain_override=site.netloc, use_https=site.scheme == "https")
