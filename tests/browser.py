"""Headless Chromium (Debian's package) driven by Playwright, for what a person sees."""

from __future__ import annotations

import os

import pytest

from tests.factories import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def launch(playwright):
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still sync.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page, base_url: str, username: str, password: str = TEST_PASSWORD, next_path: str = "/") -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("domcontentloaded")


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 800}


def is_phone(viewport: dict) -> bool:
    return viewport["width"] < 900


def fits_width(page, viewport: dict) -> bool:
    """Nothing makes the page wider than the screen (wide tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


# What a shopper or staff member sees is checked on the phone and the laptop the issue names.
both_viewports = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def screenshot(page, name: str, viewport: dict, *, full_page: bool = False) -> None:
    """With ``DEALCAST_SCREENSHOTS=DIR``, save what the page shows as ``DIR/NAME-phone.png`` or ``-desktop``."""
    shots = os.environ.get("DEALCAST_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/{name}-{'phone' if is_phone(viewport) else 'desktop'}.png", full_page=full_page)
