"""The daily digest through a real SMTP server (aiosmtpd), read back as the shopper's mail program would."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from notifications.digest import send_due_digests
from notifications.models import DigestMail, NotificationPreferences, WatchedProduct
from tests.factories import BERLIN, MarketFactory, ShopperFactory, create_deal, offset_km
from harness.mailbox import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings, mailbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", mailbox.port
    settings.SITE_URL = "http://dealcast.test"
    return mailbox


def morning():
    """Nine in the morning in the city, today: past the digest hour."""
    return timezone.localtime().replace(hour=9, minute=0)


def digest_reader(email: str, **fields):
    shopper = ShopperFactory(email=email, **fields)
    NotificationPreferences.objects.create(user=shopper, digest="daily", last_digest_at=timezone.now() - timedelta(days=1))
    return shopper


def test_the_digest_brings_new_deals_nearby_and_watched_products_once_a_day(smtp):
    shopper = digest_reader("digest-reader@example.com")
    WatchedProduct.objects.create(user=shopper, text="coffee", target_price=Decimal("5.00"))
    create_deal(product="Greek yoghurt", price=Decimal("1.49"), original_price=Decimal("1.99"))
    create_deal(product="Coffee beans 500g", price=Decimal("4.99"), original_price=Decimal("7.99"))
    far_lat, far_lng = offset_km(*BERLIN, north_km=30)
    create_deal(market=MarketFactory(lat=far_lat, lng=far_lng), product="Far away cheese")
    send_due_digests(now=morning())
    mail = smtp.wait_for("digest-reader@example.com")
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == "2 new deals near you · Dealcast"
    assert "Greek yoghurt: 1.49 EUR (was 1.99, -25%)" in text
    assert 'You watch "coffee" at 5.00 or less:' in text and "Coffee beans 500g: 4.99 EUR" in text
    assert "Far away cheese" not in text
    assert mail.get_body(("html",)) is not None
    # one a day, however often the sweep runs
    send_due_digests(now=morning() + timedelta(minutes=5))
    assert sum("digest-reader" in str(m["To"]) for m in smtp.messages) == 1
    # one click, no login: the link from the mail (and the RFC 8058 header) turns it off
    link = re.search(r"http://dealcast\.test(/notifications/unsubscribe/\S+/)", text).group(1)
    assert str(mail["List-Unsubscribe"]).strip() == f"<http://dealcast.test{link}>"
    page = Client().get(link)
    assert page.status_code == 200 and b"Stop the daily digest?" in page.content
    assert NotificationPreferences.objects.get(user=shopper).digest == "daily"  # a GET (a link preview) changes nothing
    assert Client().post(link, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert NotificationPreferences.objects.get(user=shopper).digest == "off"


def test_a_forged_unsubscribe_link_is_refused(client):
    assert client.get("/notifications/unsubscribe/not-a-token/").status_code == 404


def test_an_unsubscribe_link_ends_its_own_subscription_only_shows_no_name_and_expires(client, settings):
    from notifications import services
    from notifications.digest import unsubscribe_token

    # given a shopper's digest link
    shopper = ShopperFactory(username="private-person")
    prefs = services.notification_preferences_set(user=shopper, digest="daily")
    link = f"/notifications/unsubscribe/{unsubscribe_token(prefs)}/"
    # then the page says what it stops and not whose account it is
    page = client.get(link)
    assert page.status_code == 200 and b"private-person" not in page.content
    # when it is used, the digest stops, and the page still names no one
    done = client.post(link)
    assert done.status_code == 200 and b"private-person" not in done.content
    assert NotificationPreferences.objects.get(user=shopper).digest == "off"
    # and once the shopper turns the digest on again, the old link does nothing
    services.notification_preferences_set(user=shopper, digest="daily")
    assert client.post(link).status_code == 404
    assert NotificationPreferences.objects.get(user=shopper).digest == "daily"
    # positive control: the new digest's link works, until it expires
    fresh = f"/notifications/unsubscribe/{unsubscribe_token(NotificationPreferences.objects.get(user=shopper))}/"
    assert client.get(fresh).status_code == 200
    settings.DIGEST_UNSUBSCRIBE_DAYS = 0
    assert client.get(fresh).status_code == 404


def test_an_unconfirmed_address_gets_no_digest(smtp):
    shopper = digest_reader("unconfirmed@example.com", email_verified=False)
    create_deal(product="Greek yoghurt", price=Decimal("1.49"), original_price=Decimal("1.99"))
    send_due_digests(now=morning())
    assert not DigestMail.objects.filter(user=shopper).exists()
    # positive control: confirmed, it gets one
    shopper.email_verified = True
    shopper.save()
    send_due_digests(now=morning())
    assert smtp.wait_for("unconfirmed@example.com")


def test_the_text_part_says_what_the_market_typed(smtp):
    digest_reader("ampersand@example.com")
    create_deal(product="Salt & vinegar crisps", price=Decimal("1.49"), original_price=Decimal("1.99"))
    send_due_digests(now=morning())
    text = smtp.wait_for("ampersand@example.com").get_body(("plain",)).get_content()
    assert "Salt & vinegar crisps" in text and "&amp;" not in text


def test_no_digest_before_the_hour_or_without_news(smtp):
    digest_reader("early@example.com")
    send_due_digests(now=morning().replace(hour=5))
    assert DigestMail.objects.count() == 0
    send_due_digests(now=morning())
    assert DigestMail.objects.get().state == "empty"  # nothing new nearby: no mail
    assert not any("early@" in str(m["To"]) for m in smtp.messages)


def test_smtp_down_then_back_sends_the_digest_once(smtp, settings):
    settings.NOTIFY_BACKOFF_SECONDS = 0
    digest_reader("patient@example.com")
    create_deal(product="Pears")
    settings.EMAIL_PORT = free_port()  # nothing listens there
    send_due_digests(now=morning())
    digest = DigestMail.objects.get()
    assert digest.state == "pending" and digest.attempts == 1 and "Connection refused" in digest.last_error
    settings.EMAIL_PORT = smtp.port
    DigestMail.objects.update(due_at=morning())
    send_due_digests(now=morning())
    assert DigestMail.objects.get().state == "sent"
    assert sum("patient@" in str(m["To"]) for m in smtp.messages) == 1
