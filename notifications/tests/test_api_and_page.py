"""The shopper's side of notifications over HTTP: browsers, watched products, settings."""

import pytest
from django.contrib.sessions.models import Session
from rest_framework.test import APIClient

from notifications.models import NotificationPreferences, PushSubscription, WatchedProduct
from tests.factories import ShopperFactory
from harness.push_service import Browser

pytestmark = pytest.mark.django_db


FCM = "https://fcm.googleapis.com/fcm/send/"


@pytest.fixture(autouse=True)
def push_services(settings):
    settings.PUSH_SERVICE_HOSTS = ["fcm.googleapis.com", "*.notify.windows.com", "127.0.0.1:8443"]


@pytest.fixture
def shopper():
    return ShopperFactory()


@pytest.fixture
def api(shopper):
    """The shopper's browser, logged in (pushes belong to a browser's login)."""
    client = APIClient()
    client.force_login(shopper)
    return client


def subscribe(client, browser):
    return client.post("/api/push/subscriptions/", {"endpoint": browser.endpoint, "keys": browser.keys}, format="json")


def test_a_browser_subscribes_and_unsubscribes(api, shopper):
    config = api.get("/api/push/subscriptions/").json()
    assert config["enabled"] is True and len(config["public_key"]) == 87 and config["browsers"] == 0
    assert config["subscribed"] is None
    browser = Browser(endpoint=FCM + "abc")
    assert subscribe(api, browser).status_code == 201
    assert api.get("/api/push/subscriptions/", {"endpoint": browser.endpoint}).json()["subscribed"] is True
    # subscribing again (new keys after a browser reset) replaces, not duplicates
    again = Browser(endpoint=browser.endpoint)
    assert subscribe(api, again).status_code == 201
    assert list(PushSubscription.objects.values_list("user", "p256dh", "session_key")) == [
        (shopper.pk, again.p256dh, api.session.session_key)
    ]
    assert api.delete("/api/push/subscriptions/", {"endpoint": browser.endpoint}, format="json").status_code == 204
    assert PushSubscription.objects.count() == 0
    assert api.get("/api/push/subscriptions/", {"endpoint": browser.endpoint}).json()["subscribed"] is False


@pytest.mark.parametrize("endpoint", [FCM + "a\x00b", "not a url", "x" * 1001])
def test_asking_about_a_malformed_endpoint_is_a_400(api, endpoint):
    # found by schemathesis: a NUL byte reached PostgreSQL and answered 500
    response = api.get("/api/push/subscriptions/", {"endpoint": endpoint})
    assert response.status_code == 400 and "endpoint" in response.json()
    # positive control: a well-formed one is answered
    assert api.get("/api/push/subscriptions/", {"endpoint": FCM + "ab"}).json()["subscribed"] is False


GOOD_KEYS = Browser(endpoint=FCM + "x").keys


@pytest.mark.parametrize("body, field, message", [
    ({"endpoint": "not a url", "keys": GOOD_KEYS}, "endpoint", "valid URL"),
    ({"endpoint": FCM + "x", "keys": {"p256dh": "short", "auth": GOOD_KEYS["auth"]}}, "keys", "P-256"),
    # the review's key: the old pattern's length, not a point on the curve
    ({"endpoint": FCM + "x", "keys": {"p256dh": "A" * 87, "auth": GOOD_KEYS["auth"]}}, "keys", "P-256"),
    ({"endpoint": FCM + "x", "keys": {"p256dh": GOOD_KEYS["p256dh"], "auth": "A" * 30}}, "keys", "16-byte"),
    ({"endpoint": FCM + "x"}, "keys", "required"),
    ({"endpoint": "https://attacker.example/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "https://fcm.googleapis.com.attacker.example/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "https://fcm.googleapis.com:8443/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "http://fcm.googleapis.com/x", "keys": GOOD_KEYS}, "endpoint", "https"),
    ({"endpoint": "ftp://fcm.googleapis.com/x", "keys": GOOD_KEYS}, "endpoint", "https"),
    ({"endpoint": "https://10.0.0.7/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "https://127.0.0.1/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "http://[::1]:8443/x", "keys": GOOD_KEYS}, "endpoint", "push services"),
    ({"endpoint": "https://user:pw@fcm.googleapis.com/x", "keys": GOOD_KEYS}, "endpoint", "user name"),
])
def test_a_bad_subscription_is_a_400_that_says_why_and_saves_nothing(api, body, field, message):
    response = api.post("/api/push/subscriptions/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert message in str(response.json()), response.json()
    assert PushSubscription.objects.count() == 0


@pytest.mark.parametrize("endpoint", [
    FCM + "abc", "https://wns2-par02p.notify.windows.com/w/?token=abc", "http://127.0.0.1:8443/push/a",
])
def test_the_allowed_push_services_are_taken(api, endpoint):
    # positive control for the refusals above: listed hosts, a listed domain's hosts, a listed loopback port
    assert subscribe(api, Browser(endpoint=endpoint)).status_code == 201


def test_only_a_logged_in_browser_subscribes(shopper):
    token_client = APIClient()
    token_client.force_authenticate(shopper)
    response = subscribe(token_client, Browser(endpoint=FCM + "abc"))
    assert response.status_code == 400 and "browser you are logged in with" in response.json()["detail"]
    assert PushSubscription.objects.count() == 0


def test_a_logout_stops_that_browsers_pushes_and_no_other(shopper):
    # given the shopper's phone and laptop, each logged in and subscribed
    phone, laptop = APIClient(), APIClient()
    phone.force_login(shopper), laptop.force_login(shopper)
    subscribe(phone, Browser(endpoint=FCM + "phone")), subscribe(laptop, Browser(endpoint=FCM + "laptop"))
    # when the phone logs out
    assert phone.post("/accounts/logout/").status_code == 302
    # then only the laptop is still subscribed
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [FCM + "laptop"]
    # and a new password ends every login, so every browser's pushes
    shopper.set_password("another long passphrase 8")
    shopper.save()
    assert PushSubscription.objects.count() == 0


def test_another_accounts_subscription_moves_only_once_its_login_ended(shopper, api):
    # given the shopper's browser, subscribed
    browser = Browser(endpoint=FCM + "shared")
    assert subscribe(api, browser).status_code == 201
    # when another account posts the same endpoint (it learnt it somehow) while the shopper is logged in
    intruder = APIClient()
    intruder.force_login(ShopperFactory())
    taken = subscribe(intruder, Browser(endpoint=browser.endpoint))
    # then it is refused and the subscription stays the shopper's
    assert taken.status_code == 409 and "another account" in taken.json()["detail"]
    assert list(PushSubscription.objects.values_list("user", "p256dh")) == [(shopper.pk, browser.p256dh)]
    # positive control: once the shopper's login in that browser has ended (here it expired), the
    # next account logged in there takes it over
    Session.objects.filter(session_key=api.session.session_key).delete()
    assert subscribe(intruder, browser).status_code == 201
    assert PushSubscription.objects.get().user != shopper


def test_moving_a_subscription_in_counts_against_the_browser_cap(shopper, api):
    from notifications.services import MAX_BROWSERS

    for index in range(MAX_BROWSERS):
        assert subscribe(api, Browser(endpoint=FCM + f"own-{index}")).status_code == 201
    other = ShopperFactory()
    stale = Browser(endpoint=FCM + "from-an-ended-login")
    PushSubscription.objects.create(user=other, endpoint=stale.endpoint, session_key="ended", **stale.keys)
    response = subscribe(api, stale)
    assert response.status_code == 400 and f"At most {MAX_BROWSERS}" in str(response.json())
    assert PushSubscription.objects.get(endpoint=stale.endpoint).user == other


def test_the_watch_list_over_the_api(api, shopper):
    created = api.post("/api/watches/", {"text": "  Oat   milk ", "target_price": "1.20"}, format="json")
    assert created.status_code == 201 and created.json()["text"] == "Oat milk"
    duplicate = api.post("/api/watches/", {"text": "oat milk"}, format="json")
    assert duplicate.status_code == 400 and "already watch" in str(duplicate.json())
    assert [w["text"] for w in api.get("/api/watches/").json()] == ["Oat milk"]
    other = APIClient()
    other.force_authenticate(ShopperFactory())
    assert other.delete(f"/api/watches/{created.json()['id']}/").status_code == 404  # not theirs
    assert api.delete(f"/api/watches/{created.json()['id']}/").status_code == 204
    assert WatchedProduct.objects.count() == 0


def test_anonymous_callers_get_no_notifications_api():
    assert APIClient().get("/api/watches/").status_code in (401, 403)
    assert APIClient().post("/api/push/subscriptions/", {}, format="json").status_code in (401, 403)


def test_the_page_saves_settings_and_refuses_half_quiet_hours(client, shopper):
    client.force_login(shopper)
    assert client.get("/notifications/").status_code == 200
    bad = client.post("/notifications/", {"action": "preferences", "digest": "daily", "quiet_from": "22:00", "max_per_hour": 4})
    assert bad.status_code == 400 and b"Give both ends of the quiet hours" in bad.content
    assert not NotificationPreferences.objects.exists()
    ok = client.post("/notifications/", {"action": "preferences", "digest": "daily", "quiet_from": "22:00", "quiet_until": "07:00", "max_per_hour": 4})
    assert ok.status_code == 302
    prefs = NotificationPreferences.objects.get(user=shopper)
    assert (prefs.digest, prefs.quiet_from.hour, prefs.quiet_until.hour) == ("daily", 22, 7)
    assert client.post("/notifications/", {"action": "watch", "text": "Butter", "target_price": "-1"}).status_code == 400
    assert client.post("/notifications/", {"action": "watch", "text": "Butter"}).status_code == 302
    for junk in ("not-a-number", "²", "-1", "1e3", "99999999999999999999999"):
        assert client.post("/notifications/", {"action": "unwatch", "watch": junk}).status_code == 302
    assert WatchedProduct.objects.filter(user=shopper, text="Butter").exists()
    same = client.post("/notifications/", {"action": "preferences", "quiet_from": "03:00", "quiet_until": "03:00", "max_per_hour": 4})
    assert same.status_code == 400 and b"start and end at the same time" in same.content


def test_the_digest_waits_for_a_confirmed_address(client):
    shopper = ShopperFactory(email_verified=False)
    client.force_login(shopper)
    page = client.get("/notifications/")
    assert b"is not confirmed yet" in page.content
    refused = client.post("/notifications/", {"action": "preferences", "digest": "daily", "max_per_hour": 4})
    assert refused.status_code == 400 and b"Confirm your e-mail address first" in refused.content
    assert not NotificationPreferences.objects.filter(digest="daily").exists()


def test_the_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response["Content-Type"] == "text/javascript"
    assert b'addEventListener("push"' in response.content


def test_an_operator_retries_dead_notifications_from_admin(admin_client):
    from django.utils import timezone

    from notifications.models import Notification

    shopper = ShopperFactory()
    common = {"position": 1, "user": shopper, "payload": {"title": "t"}, "committed_at": timezone.now()}
    dead = Notification.objects.create(event_id="00000000-0000-0000-0000-000000000001", deal_id=1, reason="new",
                                       state="dead", attempts=6, last_error="push service answered 503", **common)
    sent = Notification.objects.create(event_id="00000000-0000-0000-0000-000000000002", deal_id=2, reason="new",
                                       state="sent", **common)
    listing = admin_client.get("/admin/notifications/notification/?state__exact=dead")
    assert listing.status_code == 200 and b"push service answered 503" in listing.content
    admin_client.post("/admin/notifications/notification/", {"action": "retry_dead_letters", "_selected_action": [dead.pk, sent.pk]})
    dead.refresh_from_db(), sent.refresh_from_db()
    assert (dead.state, dead.attempts, dead.last_error) == ("pending", 0, "")
    assert sent.state == "sent"  # only dead letters go back in line
