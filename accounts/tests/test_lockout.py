import pytest

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_repeated_failed_logins_lock_that_username_from_that_address(client, settings):
    UserFactory(username="target")
    other = UserFactory(username="bystander")
    # positive control: one failure short of the limit, the right password still logs in
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "target", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "target", "password": TEST_PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "target", "password": "wrong"})
    # then even the right password is refused for a while
    locked = client.post("/accounts/login/", {"username": "target", "password": TEST_PASSWORD})
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content and b"reset your password" in locked.content
    assert "_auth_user_id" not in client.session
    # and another user from the same address can still log in
    fine = client.post("/accounts/login/", {"username": other.username, "password": TEST_PASSWORD})
    assert fine.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)
