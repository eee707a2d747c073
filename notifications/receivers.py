"""A browser's pushes end with the login that turned them on, however it ends: receivers of Django's
own signals, as ``realtime.receivers`` closes that login's sockets.

A logout ends one login (``user_logged_out`` comes before the session is flushed); a new password or
a deactivation ends them all. Expiry, and a login replaced by another account's in the same browser,
need no receiver: the notifier sends only to browsers whose login is still open.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from notifications.services import push_unsubscribe_all, push_unsubscribe_login


@receiver(user_logged_out, dispatch_uid="pushes_end_on_logout")
def end_on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        push_unsubscribe_login(session_key=session.session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="pushes_end_on_credentials_change")
def end_on_credentials_change(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """``_password`` is what ``set_password`` keeps until the save (Django's ``AbstractBaseUser``)."""
    if raw or created:
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        push_unsubscribe_all(user_id=instance.pk)
