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


def test_a_forgotten_password_is_reset_through_the_mailed_link(client, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    UserFactory(username="forgetful", email="forgetful@example.com")
    # positive control: an address with no account gets the same answer and no mail
    assert client.post(reverse("password_reset"), {"email": "nobody@example.com"}).status_code == 302
    assert list(tmp_path.iterdir()) == []
    response = client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    [mail] = list(tmp_path.iterdir())
    text = mail.read_text()
    assert "Subject: Your Dealcast password" in text
    link = next(line for line in text.splitlines() if "/accounts/reset/" in line).strip()
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and b"Choose a new password" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "a-new plum 4711", "new_password2": "a-new plum 4711"})
    assert done.status_code == 302
    assert Client().post(reverse("login"), {"username": "forgetful", "password": "a-new plum 4711"}).status_code == 302


def test_errors_are_pages_of_the_site_with_a_way_back(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert b"This page does not exist" in page.content and b'href="/"' in page.content


def test_a_visitor_sees_the_citys_best_deals_and_how_to_get_them_live(client):
    from tests.factories import create_deal

    big = create_deal(product="Half-price cherries", price="1.00", original_price="2.00")
    page = client.get("/", follow=True)
    # the live page still needs a login (the contract), and the login page shows the city's deals
    assert page.redirect_chain[-1][0].startswith(reverse("login"))
    assert big.product in page.content.decode()
    assert b"Sign up</a> to see the deals near you live" in page.content
