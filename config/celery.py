"""The Celery application: Redis as broker, tasks discovered in each app's ``tasks.py``."""

import os

from celery import Celery
from celery.fixups.django import DjangoWorkerFixup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("dealcast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def return_connections_to_pool(fixup: DjangoWorkerFixup, **kwargs) -> None:
    """Before and after each task, hand the task's database connections back to the process's pool, as
    Django does after a request.

    Celery's own handler (5.5 to 5.7) closes the whole pool in a prefork worker at both points
    (celery/celery#10554; the fix proposed there, #10555, is this one), so every relay turn opened a
    new pool and waited for a new PostgreSQL backend: 5.6 ms of each commit's way to the screen
    (cProfile of ``relay_outbox`` in the worker). A child still closes the pools it inherits from the
    parent when it starts (``on_worker_process_init``, untouched).
    """
    from django.db import close_old_connections

    close_old_connections()


DjangoWorkerFixup.close_database = return_connections_to_pool
