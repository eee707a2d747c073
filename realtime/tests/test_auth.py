from datetime import timedelta
from unittest import mock

import pytest
from django.contrib import auth
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import User
from realtime.auth import _login_of
from tests.factories import ShopperFactory

pytestmark = pytest.mark.django_db


def _session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_a_live_session_names_its_user_and_when_it_lapses():
    shopper = ShopperFactory()
    key = _session_of(shopper)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=10))

    user, seconds_left = _login_of(key)

    assert user == shopper
    assert 590 < seconds_left <= 600


@pytest.mark.parametrize("ending", ["expired", "deleted", "password_changed", "deactivated", "unknown_key"])
def test_a_session_that_ended_is_anonymous(ending):
    shopper = ShopperFactory()
    key = _session_of(shopper)
    assert _login_of(key)[0] == shopper  # the positive control: the same session before it ended
    if ending == "expired":
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    elif ending == "deleted":
        Session.objects.filter(session_key=key).delete()
    elif ending == "password_changed":
        shopper.set_password("another-long-passphrase")
        shopper.save()
    elif ending == "deactivated":
        shopper.is_active = False
        shopper.save()
    else:
        key = "x" * 32

    user, seconds_left = _login_of(key)

    assert not user.is_authenticated
    assert seconds_left is None


def test_a_live_session_is_read_without_the_orm_and_its_user_is_the_one_the_orm_loads():
    # given a shopper with a saved place and radius, logged in
    shopper = ShopperFactory(home_lat=52.52, home_lng=13.405)
    key = _session_of(shopper)

    # when the socket reads the login, with Django's own user lookup made to fail
    with mock.patch.object(auth, "get_user", side_effect=AssertionError("the ORM path was taken")):
        user, _ = _login_of(key)

    # then it is the same user, every field as the ORM loads it
    loaded = User.objects.get(pk=shopper.pk)
    fields = [field.attname for field in User._meta.concrete_fields]
    assert {name: getattr(user, name) for name in fields} == {name: getattr(loaded, name) for name in fields}
    assert user.radius_km == loaded.radius_km and type(user.radius_km) is type(loaded.radius_km)
    assert user._state.db == "default" and not user._state.adding
