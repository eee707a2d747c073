"""A Celery worker keeps its PostgreSQL connections between tasks.

Celery's Django fixup closed the process's whole connection pool around every task in a prefork
worker (celery/celery#10554), so each relay turn opened a new PostgreSQL backend first: 5.6 ms of
every deal's way to the shoppers' screens, and a connection churn an operator sees in PostgreSQL.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import app as celery_app
from harness.verify import wait_drained
from realtime.tasks import relay_outbox
from tests.factories import MarketFactory, create_deal

pytestmark = pytest.mark.django_db(transaction=True)


def prefork_fixup() -> DjangoWorkerFixup:
    fixup = DjangoWorkerFixup(celery_app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
    return fixup


def sessions_opened() -> int:
    """PostgreSQL sessions ever opened to the test database (pg_stat_database, PostgreSQL 14+)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_task_hands_its_connection_back_to_the_pool_and_keeps_the_pool():
    fixup = prefork_fixup()
    connection.ensure_connection()
    pool = connection.pool
    # when a task ends in a prefork worker
    fixup.on_task_postrun(sender=relay_outbox)
    # then its connection went back to the pool, which stays open for the next task
    assert connection.connection is None
    assert connection.pool is pool and not pool.closed
    # positive control: Celery's own handler closes the pool itself
    connection.ensure_connection()
    fixup._close_database()
    assert pool.closed


@pytest.mark.stack
def test_the_relay_worker_opens_no_connection_per_deal(stack):
    market = MarketFactory()
    create_deal(market=market)
    wait_drained()
    before = sessions_opened()
    # when staff publish twenty deals, each woken up by its own relay task
    for _ in range(20):
        create_deal(market=market)
        time.sleep(0.05)
    wait_drained()
    # then the worker relayed them on the connections it already had (before the fix: one per task,
    # the beat's sweeps included)
    assert sessions_opened() - before < 5
