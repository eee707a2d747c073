"""One account's browsers misbehave at the push service (the review's attacks): a key that is no key,
endpoints that hang, trickle, answer 100 MB or redirect. Everyone else's pushes go once, on time."""

import time

import pytest
from django.utils import timezone

from notifications import delivery, notifier
from notifications.models import Notification, PushSubscription
from realtime import relay
from tests.factories import ShopperFactory, create_deal
from harness.push_service import PushService, subscribe

# The outcomes are recorded by the sender's own thread, on its own connection: the tests commit.
pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_S = 3.0


@pytest.fixture
def push_service(settings):
    settings.NOTIFY_PUSH_TIMEOUT_SECONDS = TIMEOUT_S
    service = PushService()
    yield service
    service.stop()


def publish(product: str):
    deal = create_deal(product=product)
    relay.sequence_batch()
    notifier.notify_until_caught_up()
    return deal


def attacker_with(push_service, *behaviours: str):
    attacker = ShopperFactory(username="attacker")
    for index, how in enumerate(behaviours):
        name = f"bad-{index}-{how}"
        subscribe(attacker, push_service.browser(name))
        push_service.misbehaving[name] = how
    return attacker


def test_a_key_that_is_no_key_costs_only_its_own_browser(push_service):
    # given an honest shopper and one whose stored key passed the old pattern but is no P-256 point
    honest = ShopperFactory()
    subscribe(honest, push_service.browser("honest"))
    attacker = ShopperFactory()
    bad = push_service.browser("bad-key")
    PushSubscription.objects.create(
        user=attacker, endpoint=bad.endpoint, session_key=subscribe(attacker, push_service.browser("spare")).session_key,
        p256dh="A" * 87, auth=bad.keys["auth"],
    )
    # when a deal near both is published and delivered
    publish("Apples 1kg")
    assert delivery.deliver_due() == 2
    assert delivery.wait_sent(timeout=30)
    # then the honest shopper got it once, and the unusable browser is forgotten with its reason
    assert [r.browser for r in push_service.received if r.browser == "honest"] == ["honest"]
    assert not PushSubscription.objects.filter(endpoint=bad.endpoint).exists()
    theirs = Notification.objects.get(user=attacker)
    assert theirs.state == "sent" and theirs.failure == "keys" and "encrypt" in theirs.last_error
    # and nothing is sent again once the lease would have run out
    Notification.objects.update(due_at=timezone.now())
    assert delivery.deliver_due() == 0
    assert delivery.wait_sent(timeout=30)
    assert len(push_service.messages_to("honest")) == 1


def test_hanging_and_trickling_endpoints_hold_only_their_own_shopper(push_service):
    # given an honest shopper, and an attacker whose seven browsers hang and one trickles
    honest = ShopperFactory()
    subscribe(honest, push_service.browser("honest"))
    attacker = attacker_with(push_service, *["hang"] * 7, "trickle")
    # when a deal is published, and another while the attacker's pushes are still out
    publish("Apples 1kg")
    started = time.monotonic()
    delivery.deliver_due()
    push_service.wait_for(1, browser="honest", timeout=TIMEOUT_S)
    publish("Pears 1kg")
    delivery.deliver_due()
    push_service.wait_for(2, browser="honest", timeout=TIMEOUT_S)
    # then both reached the honest shopper before the attacker's first push had even ended
    assert time.monotonic() - started < TIMEOUT_S
    assert Notification.objects.filter(user=attacker, attempts=0).count() == 2
    # and the attacker's push ends at the deadline as a retry with its reason; its second row waited
    assert delivery.wait_sent(timeout=TIMEOUT_S + 10)
    first, second = Notification.objects.filter(user=attacker).order_by("id")
    assert (first.state, first.attempts, first.failure) == ("pending", 1, "timeout")
    assert f"took over {TIMEOUT_S:g}s" in first.last_error
    assert (second.state, second.attempts) == ("pending", 0)
    assert set(Notification.objects.filter(user=honest).values_list("state", flat=True)) == {"sent"}
    assert len(push_service.messages_to("honest")) == 2


def test_a_huge_answer_is_read_no_further_and_a_redirect_is_not_followed(push_service):
    honest = ShopperFactory()
    subscribe(honest, push_service.browser("honest"))
    attacker = attacker_with(push_service, "huge", "redirect")
    publish("Apples 1kg")
    delivery.deliver_due()
    assert delivery.wait_sent(timeout=30)
    # the 100 MB answer was cut off after a few KB (what the sockets' buffers took before the hang-up)
    assert 0 < push_service.huge_bytes_sent < 20 * 1024 * 1024
    # the redirect's target (the honest browser's endpoint) got only the honest push, no second request
    assert push_service.requests.count(("POST", "/push/honest")) == 1
    assert not [request for request in push_service.requests if request[0] == "GET"]
    row = Notification.objects.get(user=attacker)
    assert (row.state, row.failure) == ("pending", "redirect") and "307" in row.last_error
    assert len(push_service.messages_to("honest")) == 1


def test_an_endpoint_off_the_allowed_hosts_is_never_contacted(push_service, settings):
    elsewhere = PushService()
    try:
        settings.PUSH_SERVICE_HOSTS = [push_service.url.removeprefix("http://")]
        honest = ShopperFactory()
        subscribe(honest, push_service.browser("honest"))
        aimed = subscribe(ShopperFactory(), elsewhere.browser("internal"))
        publish("Apples 1kg")
        delivery.deliver_due()
        assert delivery.wait_sent(timeout=30)
        assert elsewhere.requests == []
        assert not PushSubscription.objects.filter(pk=aimed.pk).exists()
        assert Notification.objects.get(user=aimed.user).failure == "host"
        # positive control: the listed service got its push
        assert len(push_service.messages_to("honest")) == 1
    finally:
        elsewhere.stop()
