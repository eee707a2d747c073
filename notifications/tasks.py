"""Celery tasks on the notifier's own queue (``NOTIFY_QUEUE``): thin wrappers."""

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings

from notifications import delivery, digest, notifier


@shared_task(ignore_result=True)
def notify() -> None:
    notifier.notify_until_caught_up()
    while delivery.deliver_due():
        pass


@shared_task(ignore_result=True)
def send_digests() -> None:
    digest.send_due_digests()


@worker_process_shutdown.connect
def finish_pushes_in_flight(**kwargs) -> None:
    """A worker stopping politely records what its pushes got, so none is sent again after the lease."""
    delivery.wait_sent(timeout=settings.NOTIFY_PUSH_TIMEOUT_SECONDS + 5)
