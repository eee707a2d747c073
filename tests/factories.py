from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import functools

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import User
from discounts.models import Category, Discount
from markets.models import Market

BERLIN = (52.52, 13.405)


TEST_PASSWORD = "correct-horse-battery"


@functools.cache
def _test_password_hash() -> str:
    # Hashing is deliberately slow; every test user shares one real hash of the same password.
    return make_password(TEST_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    email_verified = True
    password = factory.LazyFunction(_test_password_hash)


class ShopperFactory(UserFactory):
    home_lat, home_lng = BERLIN
    radius_km = Decimal("5.0")


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market

    name = factory.Sequence(lambda n: f"Market {n}")
    address = factory.Sequence(lambda n: f"Street {n}, Berlin")
    lat, lng = BERLIN


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda c: c.slug.title())


def deal_fields(**overrides) -> dict:
    """Keyword arguments for ``services.discount_create``."""
    fields = {
        "market": overrides.pop("market", None) or MarketFactory(),
        "product": "Apples 1kg",
        "category": overrides.pop("category", None) or CategoryFactory(slug="produce"),
        "original_price": Decimal("3.00"),
        "price": Decimal("1.99"),
        "ends_at": timezone.now() + timedelta(days=3),
    }
    fields.update(overrides)
    return fields


def create_deal(**overrides) -> Discount:
    from discounts.services import discount_create

    return discount_create(**deal_fields(**overrides))


def offset_km(lat: float, lng: float, north_km: float = 0.0, east_km: float = 0.0) -> tuple[float, float]:
    """A point ``north_km``/``east_km`` away (flat-earth approximation, fine for tests)."""
    import math

    return lat + north_km / 111.32, lng + east_km / (111.32 * math.cos(math.radians(lat)))


def push_subscription_for(user, *, endpoint: str | None = None):
    """A browser's push subscription, in an open login, with real keys (that no push service here reads)."""
    from harness.push_service import Browser, subscribe
    from notifications.models import PushSubscription

    endpoint = endpoint or f"https://fcm.googleapis.com/fcm/send/{user.pk}-{PushSubscription.objects.count()}"
    return subscribe(user, Browser(endpoint=endpoint))


def burst(market, count: int, product: str = "Burst") -> None:
    """``count`` deals at ``market`` in one bulk insert (one outbox row each), numbered in ``product``."""
    fields = deal_fields(market=market)
    fields.pop("market")
    Discount.objects.bulk_create(
        [Discount(market=market, starts_at=timezone.now(), **{**fields, "product": f"{product} {i}"}) for i in range(count)]
    )
