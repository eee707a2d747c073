"""Sending decided notifications to a push service run by the test, which checks the VAPID signature
and decrypts each message as the browser would."""

from datetime import time, timedelta

import http_ece
import pytest
from django.db import OperationalError
from django.utils import timezone

from notifications import delivery, notifier
from notifications.models import Notification, NotificationPreferences, PushSubscription
from realtime import relay
from tests.factories import ShopperFactory, create_deal
from harness.push_service import PushService
from harness.push_service import subscribe as subscribe_browser

# The outcomes are recorded by the sender's own thread, on its own connection: the tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.stop()


def subscribe(user, push_service, name):
    return subscribe_browser(user, push_service.browser(name))


def deliver() -> int:
    """Claim what is due and wait until every push has been answered and recorded."""
    claimed = delivery.deliver_due()
    assert delivery.wait_sent(timeout=30)
    return claimed


def publish(product="Apples 1kg", **fields):
    deal = create_deal(product=product, **fields)
    relay.sequence_batch()
    notifier.notify_until_caught_up()
    return deal


def test_a_notification_arrives_signed_and_readable_only_by_the_browser(push_service):
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "phone")
    subscribe(shopper, push_service, "laptop")
    deal = publish()
    assert deliver() == 1
    # every browser of the shopper got it, decrypted with its own keys, under the site's VAPID key
    assert sorted(r.browser for r in push_service.received) == ["laptop", "phone"]
    message = push_service.messages_to("phone")[0]
    assert message["title"].startswith("New deal: Apples 1kg") and message["url"] == f"/deals/{deal.pk}/"
    assert push_service.received[0].claims["sub"].startswith("mailto:")
    assert push_service.rejected == []
    note = Notification.objects.get()
    assert note.state == "sent" and note.sent_at is not None
    # positive control: the message for one browser cannot be read with another's keys
    to_phone = next(r for r in push_service.received if r.browser == "phone")
    laptop = push_service.browsers["laptop"]
    with pytest.raises(Exception):
        http_ece.decrypt(to_phone.body, private_key=laptop.private_key, auth_secret=laptop.auth, version="aes128gcm")


def test_a_gone_browser_is_forgotten_and_the_others_still_get_it(push_service):
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "old")
    subscribe(shopper, push_service, "new")
    push_service.answers["old"] = 410
    publish()
    deliver()
    assert [r.browser for r in push_service.received] == ["new"]
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [push_service.browsers["new"].endpoint]
    assert Notification.objects.get().state == "sent"


def test_a_failing_push_service_is_retried_with_backoff_then_a_dead_letter_then_retried_by_hand(push_service, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_BACKOFF_SECONDS = 0
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "ok")
    subscribe(shopper, push_service, "flaky")
    push_service.answers["flaky"] = 503
    publish()
    for _ in range(3):
        Notification.objects.update(due_at=timezone.now())  # past the lease, as time would
        deliver()
    note = Notification.objects.get()
    assert note.state == "dead" and note.attempts == 3 and "503" in note.last_error
    # the browser that accepted it the first time was not sent it again on the retries
    assert [r.browser for r in push_service.received] == ["ok"]
    # back up, and an operator retries the dead letter: only the browser that missed it gets it
    del push_service.answers["flaky"]
    assert delivery.retry_dead(rows=Notification.objects.all()) == 1
    deliver()
    assert sorted(r.browser for r in push_service.received) == ["flaky", "ok"]
    assert Notification.objects.get().state == "sent"


def test_quiet_hours_hold_pushes_until_they_end(push_service):
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "phone")
    now = timezone.localtime()
    NotificationPreferences.objects.create(
        user=shopper, quiet_from=(now - timedelta(hours=1)).time(), quiet_until=(now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    )
    publish()
    deliver()
    assert push_service.received == []
    note = Notification.objects.get()
    assert note.state == "pending" and note.due_at > timezone.now() + timedelta(minutes=50)
    # positive control: with the quiet hours over, it goes
    NotificationPreferences.objects.update(quiet_from=time(3, 0), quiet_until=time(3, 0))
    Notification.objects.update(due_at=timezone.now())
    deliver()
    assert len(push_service.received) == 1


def test_more_than_the_hourly_cap_arrives_grouped_into_one_push(push_service):
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "phone")
    NotificationPreferences.objects.create(user=shopper, max_per_hour=2)
    for i in range(5):
        create_deal(product=f"Fruit {i}")
    relay.sequence_batch()
    notifier.notify_until_caught_up()
    deliver()
    titles = sorted(m["title"] for m in push_service.messages_to("phone"))
    assert len(titles) == 2
    assert titles[0] == "4 more deals near you" and titles[1].startswith("New deal: Fruit 0")
    assert sorted(Notification.objects.values_list("state", flat=True)) == ["grouped"] * 4 + ["sent"]
    # the next one in the same hour waits for room instead of a third push
    publish(product="Fruit 5")
    deliver()
    assert len(push_service.received) == 2
    assert Notification.objects.get(state="pending").due_at > timezone.now() + timedelta(minutes=50)


def test_a_database_away_while_sends_are_recorded_does_not_send_them_again(push_service, monkeypatch):
    # given a shopper's notification, and a database that drops the connection the first time the
    # batch's outcomes are written (PostgreSQL restarting just after the pushes went out)
    shopper = ShopperFactory()
    subscribe(shopper, push_service, "phone")
    publish()
    write = delivery._write_outcomes
    dropped = []

    def away_once(rows):
        if not dropped:
            dropped.append(len(rows))
            raise OperationalError("server closed the connection unexpectedly")
        write(rows)

    monkeypatch.setattr(delivery, "_write_outcomes", away_once)
    # when the batch is delivered
    assert deliver() == 1
    # then the send is recorded once the database answers, and nothing is sent again after the lease
    assert dropped == [1]
    assert Notification.objects.get().state == "sent"
    Notification.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    assert deliver() == 0
    assert [r.browser for r in push_service.received] == ["phone"]
