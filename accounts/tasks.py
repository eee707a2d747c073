"""Mail that accounts send, from the worker (thin wrappers; the notifier's queue, beside the digest)."""

from __future__ import annotations

import smtplib

from celery import shared_task

from accounts import services

# The mail server away for a moment: try again with doubling waits rather than lose the mail.
MAIL_RETRY = {"autoretry_for": (smtplib.SMTPException, OSError), "retry_backoff": 5, "max_retries": 6}


@shared_task(ignore_result=True, **MAIL_RETRY)
def send_password_reset(email: str) -> None:
    services.password_reset_send(email=email)


@shared_task(ignore_result=True, **MAIL_RETRY)
def send_email_verification(user_id: int) -> None:
    services.email_verification_send(user_id=user_id)
