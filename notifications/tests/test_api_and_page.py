"""The shopper's side of notifications over HTTP: browsers, watched products, settings."""

import pytest
from rest_framework.test import APIClient

from notifications.models import NotificationPreferences, PushSubscription, WatchedProduct
from tests.factories import ShopperFactory
from harness.push_service import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper():
    return ShopperFactory()


@pytest.fixture
def api(shopper):
    client = APIClient()
    client.force_authenticate(shopper)
    return client


def test_a_browser_subscribes_and_unsubscribes(api, shopper):
    config = api.get("/api/push/subscriptions/").json()
    assert config["enabled"] is True and len(config["public_key"]) == 87 and config["browsers"] == 0
    browser = Browser(endpoint="https://push.example.com/abc")
    assert api.post("/api/push/subscriptions/", {"endpoint": browser.endpoint, "keys": browser.keys}, format="json").status_code == 201
    # subscribing again (new keys after a browser reset) replaces, not duplicates
    again = Browser(endpoint=browser.endpoint)
    assert api.post("/api/push/subscriptions/", {"endpoint": again.endpoint, "keys": again.keys}, format="json").status_code == 201
    assert list(PushSubscription.objects.values_list("user", "p256dh")) == [(shopper.pk, again.p256dh)]
    assert api.delete("/api/push/subscriptions/", {"endpoint": browser.endpoint}, format="json").status_code == 204
    assert PushSubscription.objects.count() == 0


@pytest.mark.parametrize("body, field", [
    ({"endpoint": "not a url", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}, "endpoint"),
    ({"endpoint": "https://push.example.com/x", "keys": {"p256dh": "short", "auth": "A" * 22}}, "keys"),
    ({"endpoint": "https://push.example.com/x"}, "keys"),
])
def test_a_bad_subscription_is_a_400_and_saves_nothing(api, body, field):
    response = api.post("/api/push/subscriptions/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert PushSubscription.objects.count() == 0


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
    assert client.post("/notifications/", {"action": "unwatch", "watch": "not-a-number"}).status_code == 302
    assert WatchedProduct.objects.filter(user=shopper, text="Butter").exists()


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
