"""Receivers of the signals ``realtime`` acts on, sent by apps that do not know it.

The relay wakes when events commit (``eventlog.signals.events_committed``).

Sockets end with the login behind them, however it ends: receivers of Django's own signals.

Every logout view (the site's, admin's, any other) sends ``user_logged_out`` before the session is
flushed; a password change or a deactivation is a save of the user. Closing is published on commit
to the one ``logins`` group every web process hears (``realtime.sessions``). Session expiry is
handled by each socket's own timer (``DealsConsumer``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from eventlog.signals import events_committed
from realtime.relay_waker import relay_waker
from realtime.sessions import sockets_close_for_session, sockets_close_for_user


@receiver(events_committed, dispatch_uid="relay_wakes_on_commit")
def wake_the_relay(sender, **kwargs) -> None:
    relay_waker.wake()


@receiver(user_logged_out, dispatch_uid="sockets_close_on_logout")
def close_on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    sockets_close_for_session(session.session_key if session is not None else None)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sockets_close_on_credentials_change")
def close_on_credentials_change(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A new password ends every other session (Django's session hash); deactivation ends all.

    ``_password`` is what ``set_password`` stores until the save completes (Django's
    ``AbstractBaseUser``); the page whose own session survives a change reconnects at once.
    """
    if raw or created:
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        sockets_close_for_user(instance.pk)
