"""Running a test's coroutine to completion from synchronous test code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_on_own_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` on a thread of its own.

    The browser tests' Playwright (its sync API, a session fixture) keeps an event loop running on the
    main thread for the rest of the session, and ``asyncio.run`` refuses to start there: a test that
    called it directly passed alone and failed after the browser tests.
    """
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
