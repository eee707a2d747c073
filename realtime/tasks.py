"""Celery tasks: thin wrappers. The message is only a wake-up; the outbox table is the work list."""

from celery import shared_task

from realtime import relay


@shared_task(ignore_result=True)
def relay_outbox() -> None:
    with relay.relay_turn():
        relay.relay_pending()


@shared_task(ignore_result=True)
def prune_outbox() -> None:
    relay.prune_published()
