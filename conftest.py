"""Fixtures shared by the whole suite: real PostgreSQL and Redis, and real processes on demand."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from harness.client import origin_of
from harness.shopper import ShopperSocket, session_cookie
from harness.stack import Stack
from localdev.embedded import free_port


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


def _flush_never_loses_a_deadlock(sender, connection, **kwargs) -> None:
    """Between transactional tests the database is emptied by one TRUNCATE of every table, which locks
    them one at a time in an order that changes with each run (Django lists the tables from a set).
    The stack's log readers lock two of them in a fixed order (the notifier: its offset row, then the
    outbox), so a TRUNCATE that took the outbox first could deadlock with a notifier's poll, and
    PostgreSQL ended the TRUNCATE: the test errored in its teardown. With a longer deadlock timeout in
    the test process, the other side sees the deadlock first and is the one ended; the notifier's task
    fails once, rolled back, and its next run reads on from the same offset."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Only a superuser may set it; a suite run as another role keeps the race.
            cursor.execute("SELECT set_config('deadlock_timeout', '10s', false) WHERE current_setting('is_superuser') = 'on'")


connection_created.connect(_flush_never_loses_a_deadlock)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """``--reuse-db`` keeps the test database between runs, and a run stopped inside a transactional
    test keeps that test's rows: a committed event log that the next run's tests read as their own
    (six changes-feed tests failed on it). Every run starts from an empty database."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        _content_types_by_name()
    _forget_reach_counts()


def _forget_reach_counts() -> None:
    """Redis keeps each deal's reach count by deal id, and an emptied database numbers its deals from 1
    again: a new deal showed the shoppers an earlier run's deal had reached (CI, after a local run on
    the same Redis). Only this run's prefix (``CHANNEL_LAYER_PREFIX``) is touched."""
    import redis
    from django.conf import settings

    from realtime.reach import reach_key

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        stale = list(client.scan_iter(match=reach_key("*"), count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


@pytest.fixture(scope="session")
def mailbox():
    """A real SMTP server; the stack's processes send their mail to it."""
    from harness.mailbox import Mailbox

    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def stack_env(django_db_setup, django_db_blocker, mailbox) -> dict[str, str]:
    with django_db_blocker.unblock():
        url = _database_url()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url, RELAY_SWEEP_SECONDS="0.5", PYTHONUNBUFFERED="1",
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mailbox.port),
    )
    env.setdefault("REALTIME_RECONCILE_SECONDS", "0.5")
    # Seen leaving a cell within the test's patience (shipped: 30 s, for reconnecting crowds).
    env.setdefault("REALTIME_LEAVE_AFTER_SECONDS", "1")
    return env


@pytest.fixture(scope="session")
def stack(stack_env):
    """One daphne, one Celery worker and beat, shared by the tests that need live delivery."""
    # Mail from the workers links to the site as SITE_URL names it: the first web process's address.
    port = free_port()
    running = Stack({**stack_env, "SITE_URL": f"http://127.0.0.1:{port}"})
    running.start_web(port)
    running.start_worker()
    running.start_notifier()
    running.start_beat()
    yield running
    running.stop()


# Renumbers content types by name, updating every foreign key to them in the same transaction.
_CONTENT_TYPES_BY_NAME = """
CREATE TEMP TABLE content_type_ids ON COMMIT DROP AS
  SELECT id AS old, row_number() OVER (ORDER BY app_label, model) AS new FROM django_content_type;
UPDATE django_content_type c SET id = -m.new FROM content_type_ids m WHERE c.id = m.old;
UPDATE django_content_type SET id = -id;
"""


def _content_types_by_name() -> None:
    """A flush between transactional tests recreates the content types with new ids, while a web
    process caches the ids it saw first (admin's change log then fails its foreign key). Numbering
    them by name after each flush gives every test the same ids the web processes know."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cl.relname, att.attname FROM pg_constraint con"
            " JOIN pg_class cl ON cl.oid = con.conrelid"
            " JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = ANY(con.conkey)"
            " WHERE con.contype = 'f' AND con.confrelid = 'django_content_type'::regclass"
        )
        references = cursor.fetchall()
        with transaction.atomic():
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(_CONTENT_TYPES_BY_NAME)
            for table, column in references:
                cursor.execute(
                    f'UPDATE "{table}" t SET "{column}" = m.new FROM content_type_ids m WHERE t."{column}" = m.old'
                )
        cursor.execute("SELECT setval(pg_get_serial_sequence('django_content_type', 'id'), (SELECT max(id) FROM django_content_type))")
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def webs_follow_this_tests_log(request):
    """Each database test starts with an emptied database: a new event log, with a new epoch. A web
    process that notices it later gives its open sockets fresh snapshots (as after a restore), which
    would land among a test's frames; so before the test, every web process follows the new log."""
    if "stack" not in request.fixturenames or request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    _content_types_by_name()
    stack = request.getfixturevalue("stack")
    from eventlog.models import LogHead
    from harness.stack import metric, wait_for

    epoch = LogHead.objects.get_or_create(pk=1)[0].epoch

    def following(port: int) -> bool:
        # No epoch yet: the process's hub has not opened, and reads the log as it is when it does.
        name = "dealcast_event_log_info"
        return metric(port, name) == 1 or metric(port, name, f'epoch="{epoch}"') == 1

    assert wait_for(lambda: all(following(port) for port, _ in stack.webs))
    yield
    # After the test its tables are truncated, one lock at a time. A worker's transaction reading
    # several of them meanwhile can deadlock with that (seen with the notifier reading the test's last
    # events): let the relay and the notifier finish with the test's events first. Idle, they read
    # one table per statement.
    from eventlog.readers import reader_caught_up
    from harness.verify import wait_drained
    from notifications.notifier import READER

    wait_drained(timeout=10)
    wait_for(lambda: reader_caught_up(READER), timeout=10)


@pytest.fixture
def connect_shopper(stack):
    """Open a real WebSocket as a logged-in user; all are closed after the test."""
    sockets: list[ShopperSocket] = []

    def connect(user, *, web: int = 0, origin: str | None = None) -> ShopperSocket:
        sock = ShopperSocket(
            stack.ws_url(web), session=session_cookie(user) if user else None, origin=origin or origin_of(stack.ws_url(web))
        )
        sockets.append(sock)
        return sock

    yield connect
    for sock in sockets:
        sock.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Fresh browser contexts (separate cookies), each with a page; closed after the test."""
    contexts = []

    def make(**context_options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 860}, **context_options})
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()
