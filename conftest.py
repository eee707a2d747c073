"""Fixtures shared by the whole suite: real PostgreSQL and Redis, and real processes on demand."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from harness.client import origin_of
from harness.shopper import ShopperSocket, session_cookie
from harness.stack import Stack


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def stack_env(django_db_setup, django_db_blocker) -> dict[str, str]:
    with django_db_blocker.unblock():
        url = _database_url()
    env = dict(os.environ)
    env.update(DATABASE_URL=url, RELAY_SWEEP_SECONDS="0.5", PYTHONUNBUFFERED="1")
    env.setdefault("REALTIME_RECONCILE_SECONDS", "0.5")
    return env


@pytest.fixture(scope="session")
def stack(stack_env):
    """One daphne, one Celery worker and beat, shared by the tests that need live delivery."""
    running = Stack(stack_env)
    running.start_web()
    running.start_worker()
    running.start_beat()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def webs_follow_this_tests_log(request):
    """Each database test starts with an emptied database: a new event log, with a new epoch. A web
    process that notices it later gives its open sockets fresh snapshots (as after a restore), which
    would land among a test's frames; so before the test, every web process follows the new log."""
    if "stack" not in request.fixturenames or request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    stack = request.getfixturevalue("stack")
    from harness.stack import metric, wait_for
    from realtime.models import LogHead

    epoch = LogHead.objects.get_or_create(pk=1)[0].epoch

    def following(port: int) -> bool:
        # No epoch yet: the process's hub has not opened, and reads the log as it is when it does.
        name = "dealcast_event_log_info"
        return metric(port, name) == 1 or metric(port, name, f'epoch="{epoch}"') == 1

    assert wait_for(lambda: all(following(port) for port, _ in stack.webs))
    yield


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
