"""Celery tasks on the notifier's own queue (``NOTIFY_QUEUE``): thin wrappers."""

from celery import shared_task

from notifications import delivery, digest, notifier


@shared_task(ignore_result=True)
def notify() -> None:
    notifier.notify_until_caught_up()
    while delivery.deliver_due():
        pass


@shared_task(ignore_result=True)
def send_digests() -> None:
    digest.send_due_digests()
