"""The login lockout keys on the client's real address, through real daphne: a header cannot move it."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def attempt(base: str, username: str, password: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=base, timeout=10) as browser:
        browser.get("/accounts/login/")
        return browser.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/", "X-Forwarded-For": forwarded_for},
        ).status_code


def test_a_new_forwarded_for_header_each_try_does_not_escape_the_lockout(stack, settings):
    UserFactory(username="target")
    for i in range(12):
        attempt(stack.base_url, "target", "wrong", f"203.0.113.{i}")
    # then the right password is refused from this address, whatever the header says
    assert attempt(stack.base_url, "target", TEST_PASSWORD, "198.51.100.99") == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_one_locked(stack):
    port = stack.start_web(extra_env={"TRUSTED_PROXY_COUNT": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        UserFactory(username="victim")
        # a client behind the proxy (which appended 198.51.100.7) writes a new address of its own each try
        for i in range(12):
            attempt(base, "victim", "wrong", f"203.0.113.{i}, 198.51.100.7")
        assert attempt(base, "victim", TEST_PASSWORD, "10.0.0.1, 198.51.100.7") == 429
        # positive control: the same account from another real address is not locked out
        assert attempt(base, "victim", TEST_PASSWORD, "203.0.113.1, 198.51.100.8") == 302
    finally:
        stack.stop_web(len(stack.webs) - 1)
