import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_logs_the_shopper_in_and_leads_to_preferences(client):
    response = client.post(
        reverse("signup"),
        {"username": "ana", "email": "ana@example.com", "password1": "plum-tree-4711", "password2": "plum-tree-4711"},
    )
    assert response.status_code == 302 and response.url == reverse("preferences")
    assert client.get(reverse("preferences")).status_code == 200


def test_duplicate_username_is_a_clear_error(client):
    UserFactory(username="ana")
    response = client.post(
        reverse("signup"),
        {"username": "ana", "email": "x@example.com", "password1": "plum-tree-4711", "password2": "plum-tree-4711"},
    )
    assert response.status_code == 400
    assert b"already exists" in response.content
    assert User.objects.filter(username="ana").count() == 1


def signup(client, username: str):
    return client.post(reverse("signup"), {
        "username": username, "email": "", "password1": "plum-tree-4711", "password2": "plum-tree-4711",
    })


@pytest.mark.parametrize("look_alike", ["Ana", "ANA", "аna", "ａｎａ"])
def test_a_look_alike_of_an_existing_username_is_refused(client, look_alike):
    # given "ana" (positive control: a different name is taken)
    assert signup(client, "ana").status_code == 302
    assert signup(Client(), "anna").status_code == 302
    # when someone signs up as the same name in other case, with a Cyrillic "а", or full-width letters
    response = signup(Client(), look_alike)
    # then it is refused with a message, and no second account exists
    assert response.status_code == 400
    assert b"already exists" in response.content or b"alphabet" in response.content
    assert User.objects.filter(username__iexact="ana").count() == 1
    assert not User.objects.filter(username=look_alike).exists()


def test_a_username_in_one_other_alphabet_is_welcome(client):
    assert signup(client, "иван").status_code == 302


def test_signups_from_one_address_are_limited_per_hour(settings):
    settings.SIGNUPS_PER_HOUR = 3
    address = "198.51.100.23"
    cache.delete(f"signups:{address}")
    statuses = [signup(Client(REMOTE_ADDR=address), f"burst{i}").status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert User.objects.filter(username__startswith="burst").count() == 3
    # positive control: another address still signs up
    assert signup(Client(REMOTE_ADDR="198.51.100.24"), "elsewhere").status_code == 302
    cache.delete(f"signups:{address}")
    cache.delete("signups:198.51.100.24")


def test_preferences_are_saved(client):
    user = UserFactory()
    produce = CategoryFactory(slug="produce")
    client.force_login(user)
    response = client.post(
        reverse("preferences"),
        {"home_lat": "52.5", "home_lng": "13.4", "radius_km": "7.5", "categories": [produce.pk], "notify_new_deals": "on"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.home_lat, user.home_lng, float(user.radius_km), user.notify_new_deals) == (52.5, 13.4, 7.5, True)
    assert list(user.categories.all()) == [produce]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"home_lat": "95", "home_lng": "13.4", "radius_km": "5"}, b"less than or equal to 90"),
        ({"home_lat": "52", "home_lng": "13.4", "radius_km": "80"}, b"less than or equal to 50"),
        ({"home_lat": "52", "home_lng": "13.4", "radius_km": "0.1"}, b"greater than or equal to 0.5"),
        ({"home_lat": "52", "home_lng": "", "radius_km": "5"}, b"both a latitude and a longitude"),
    ],
)
def test_bad_preferences_are_form_errors_and_nothing_changes(client, data, message):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("preferences"), data)
    assert response.status_code == 400
    assert message in response.content
    user.refresh_from_db()
    assert user.home_lat is None and float(user.radius_km) == 5.0


def test_pages_need_a_login(client):
    assert client.get("/").status_code == 302
    assert client.get(reverse("preferences")).status_code == 302
