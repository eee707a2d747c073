import uuid

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


def test_a_shoppers_pages_need_a_login_and_a_visitor_gets_deals_instead_of_the_live_page(client):
    assert client.get(reverse("preferences")).status_code == 302
    assert client.get(reverse("notifications")).status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and b'id="conn-status"' not in home.content
    assert b"The city's biggest discounts now" in home.content


def test_a_reset_request_reads_nothing_about_accounts_so_it_cannot_tell_them_apart(client, django_assert_num_queries):
    # given an address with an account and one without
    UserFactory(username="forgetful", email="forgetful@example.com")
    # when each asks for a reset, then neither request touches the database (the worker looks the
    # address up and sends the mail), and both get the same answer
    answers = []
    for email in ("forgetful@example.com", "nobody@example.com"):
        with django_assert_num_queries(0):
            response = client.post(reverse("password_reset"), {"email": email})
        answers.append((response.status_code, response.url))
    assert answers == [(302, reverse("password_reset_done"))] * 2


def test_reset_mail_is_limited_per_address_and_per_client(client, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS, settings.PASSWORD_RESETS_PER_CLIENT = 2, 3
    # The counts live in Redis for an hour: this run's own addresses and client.
    run = uuid.uuid4().hex[:12]
    client_ip, elsewhere = f"2001:db8:{run[:4]}::1", f"2001:db8:{run[:4]}::2"

    def ask(email, ip=client_ip):
        return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)

    assert [ask(f"Victim-{run}@example.com").status_code for _ in range(2)] == [302, 302]
    # the same address, however spelt, from anywhere
    limited = ask(f"victim-{run}@EXAMPLE.com", ip=elsewhere)
    assert limited.status_code == 429 and b"Too many reset requests" in limited.content
    # positive control: another address from the same client still goes, until the client's own limit
    assert ask(f"other-{run}@example.com").status_code == 302
    assert ask(f"third-{run}@example.com").status_code == 429


def test_the_reset_link_points_at_the_site_never_at_the_requests_host(settings, tmp_path):
    from accounts.services import password_reset_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    settings.SITE_URL = "https://deals.example.org"
    UserFactory(username="forgetful", email="forgetful@example.com")
    password_reset_send(email="nobody@example.com")
    assert list(tmp_path.iterdir()) == []  # positive control: no account, no mail
    password_reset_send(email="forgetful@example.com")
    [mail] = list(tmp_path.iterdir())
    link = next(line for line in mail.read_text().splitlines() if "/accounts/reset/" in line).strip()
    assert link.startswith("https://deals.example.org/accounts/reset/")


def test_errors_are_pages_of_the_site_with_a_way_back(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert b"This page does not exist" in page.content and b'href="/"' in page.content


def test_a_visitor_sees_the_citys_best_deals_and_how_to_get_them_live(client):
    from tests.factories import create_deal

    from tests.factories import BERLIN, MarketFactory, offset_km

    big = create_deal(
        product="Half-price cherries", price="1.00", original_price="2.00",
        market=MarketFactory(lat=offset_km(*BERLIN, north_km=20)[0], lng=BERLIN[1]),
    )
    near = create_deal(product="Plums", price="1.80", original_price="2.00")
    # the live page needs a login; a visitor at / gets the city's biggest discounts and the invitation
    page = client.get("/")
    html = page.content.decode()
    assert html.index(big.product) < html.index(near.product)
    assert b"Sign up</a> to see the deals of your area live" in page.content
    # and with where they are (the page sends it once the browser shares it), the deals around them
    around = client.get("/", {"lat": BERLIN[0], "lng": BERLIN[1]}).content.decode()
    assert near.product in around and big.product not in around and "Deals within 5 km of you" in around
    assert client.get("/", {"lat": "north"}).status_code == 400
    # search is open to visitors too
    assert near.product in client.get(reverse("search"), {"q": "plums"}).content.decode()


def test_an_address_is_confirmed_by_the_mailed_link_and_belongs_to_one_account(client, settings, tmp_path):
    from accounts.services import email_verification_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    settings.SITE_URL = "https://deals.example.org"
    # given two new accounts that typed the same address (only its owner can confirm it)
    first = UserFactory(email="Shared@example.com", email_verified=False)
    second = UserFactory(email="shared@example.com", email_verified=False)
    links = []
    for user in (first, second):
        for mail in tmp_path.iterdir():
            mail.unlink()
        assert email_verification_send(user_id=user.pk)
        [mail] = list(tmp_path.iterdir())
        links.append(next(line for line in mail.read_text().splitlines() if "/accounts/verify-email/" in line).strip())
    assert all(link.startswith("https://deals.example.org/accounts/verify-email/") for link in links)
    path = [link.removeprefix("https://deals.example.org") for link in links]
    # when the first link is followed, that account's address is confirmed
    assert client.get(path[0]).status_code == 200
    first.refresh_from_db()
    assert first.email_verified
    # then the second account cannot confirm the same address
    refused = client.get(path[1])
    assert refused.status_code == 400 and b"belongs to another account" in refused.content
    second.refresh_from_db()
    assert not second.email_verified
    # and a confirmed address gets no more links
    assert not email_verification_send(user_id=first.pk)


def test_a_forged_or_expired_confirmation_link_says_so(client, settings):
    from django.core import signing

    from accounts.services import EMAIL_VERIFICATION_SALT

    user = UserFactory(email="late@example.com", email_verified=False)
    forged = client.get("/accounts/verify-email/not-a-token/")
    assert forged.status_code == 400 and b"not one of ours" in forged.content
    token = signing.dumps({"u": user.pk, "e": "late@example.com"}, salt=EMAIL_VERIFICATION_SALT)
    settings.EMAIL_VERIFICATION_DAYS = 0
    expired = client.get(f"/accounts/verify-email/{token}/")
    assert expired.status_code == 400 and b"expired" in expired.content
    settings.EMAIL_VERIFICATION_DAYS = 3
    assert client.get(f"/accounts/verify-email/{token}/").status_code == 200  # positive control


def test_signing_up_with_an_address_asks_the_worker_to_confirm_it(client, django_capture_on_commit_callbacks):
    from accounts.models import User

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("signup"), {
            "username": "newcomer", "email": "newcomer@example.com",
            "password1": "a long plum 4711", "password2": "a long plum 4711",
        })
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com" and not user.email_verified
    assert len(callbacks) == 1  # the verification mail's hand-over to the worker, after the commit
