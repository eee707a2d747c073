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
        context = browser.new_context(viewport={"width": 1280, "height": 860}, **context_options)
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
