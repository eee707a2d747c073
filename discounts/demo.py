"""The demo city (Berlin) and the market activity the demo and the benchmarks drive."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from discounts import services
from discounts.demo_accounts import DEMO_PASSWORDS
from discounts.models import Category, Discount
from markets.models import Market

CITY_CENTER = (52.5200, 13.4050)
CITY_SPAN = (0.12, 0.20)  # degrees of lat/lng either side: about 27 km x 27 km
MARKET_COUNT = 24
DEALS_PER_MARKET = 14
STAFF_GROUP = "Market staff"
CATEGORIES = {
    "produce": ("Fruit & vegetables", ["Apples 1kg", "Bananas", "Tomatoes 500g", "Avocado", "Strawberries 250g"]),
    "dairy": ("Dairy", ["Whole milk 1L", "Greek yoghurt", "Butter 250g", "Gouda 400g", "Eggs (10)"]),
    "bakery": ("Bakery", ["Sourdough loaf", "Croissants (4)", "Pretzel", "Rye bread", "Bagels (6)"]),
    "meat": ("Meat & fish", ["Chicken breast 500g", "Salmon fillet", "Minced beef 500g", "Bratwurst (4)"]),
    "drinks": ("Drinks", ["Orange juice 1L", "Sparkling water 6x1.5L", "Cola 1.5L", "Coffee beans 1kg"]),
    "pantry": ("Pantry", ["Pasta 500g", "Olive oil 750ml", "Basmati rice 1kg", "Tomato sauce"]),
    "frozen": ("Frozen", ["Frozen pizza", "Ice cream 1L", "Frozen peas 1kg", "Fish fingers"]),
    "household": ("Household", ["Laundry detergent", "Dish soap", "Paper towels (4)", "Trash bags"]),
    "snacks": ("Snacks", ["Dark chocolate", "Crisps", "Salted peanuts", "Gummy bears"]),
    "baby": ("Baby", ["Diapers size 4", "Baby wipes", "Baby porridge"]),
}
STREETS = ["Hauptstraße", "Bahnhofstraße", "Lindenallee", "Marktplatz", "Gartenweg", "Schillerstraße", "Parkstraße"]


def market_staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    perms = Permission.objects.filter(
        content_type__app_label="discounts", codename__in=["add_discount", "change_discount", "delete_discount", "view_discount"]
    ) | Permission.objects.filter(content_type__app_label="markets", codename="view_market")
    group.permissions.set(perms)
    return group


def _user(username: str, password: str, **fields) -> User:
    user, created = User.objects.get_or_create(username=username, defaults=fields)
    if created:
        user.set_password(password)
        user.save()
    return user


def random_deal_fields(rng: random.Random, categories: list[Category]) -> dict:
    category = rng.choice(categories)
    product = rng.choice(CATEGORIES[category.slug][1])
    original = Decimal(rng.randint(99, 2999)) / 100
    price = (original * Decimal(rng.randint(40, 95)) / 100).quantize(Decimal("0.01"))
    return {
        "product": product,
        "category": category,
        "original_price": original,
        "price": max(price, Decimal("0.01")),
        "ends_at": timezone.now() + timedelta(days=rng.randint(1, 14)),
    }


@transaction.atomic
def seed_demo_city(*, seed: int = 42) -> dict:
    """Create the demo city; running it again changes nothing."""
    rng = random.Random(seed)
    categories = [
        Category.objects.get_or_create(slug=slug, defaults={"name": name})[0] for slug, (name, _) in CATEGORIES.items()
    ]
    group = market_staff_group()
    _user("admin", DEMO_PASSWORDS["admin"], is_staff=True, is_superuser=True, email="admin@example.com")
    shopper = _user(
        "shopper", DEMO_PASSWORDS["shopper"], home_lat=CITY_CENTER[0], home_lng=CITY_CENTER[1],
        radius_km=Decimal("5.0"), email="shopper@example.com",
    )
    created_deals = 0
    for index in range(1, MARKET_COUNT + 1):
        lat = CITY_CENTER[0] + rng.uniform(-CITY_SPAN[0], CITY_SPAN[0])
        lng = CITY_CENTER[1] + rng.uniform(-CITY_SPAN[1], CITY_SPAN[1])
        market, _ = Market.objects.get_or_create(
            name=f"Market {index:02d}",
            defaults={"address": f"{rng.choice(STREETS)} {rng.randint(1, 200)}, Berlin", "lat": lat, "lng": lng},
        )
        staff = _user(f"staff{index:02d}", DEMO_PASSWORDS["staff"], is_staff=True)
        staff.groups.add(group)
        market.staff.add(staff)
        if not market.discounts.exists():
            for _ in range(DEALS_PER_MARKET):
                services.discount_create(market=market, **random_deal_fields(rng, categories))
                created_deals += 1
    return {"shopper": shopper.username, "created_deals": created_deals}


def simulate_step(rng: random.Random) -> str:
    """One market action through the staff code paths: publish, reprice or withdraw."""
    market = Market.objects.order_by("?").first()
    categories = list(Category.objects.all())
    live = list(Discount.objects.filter(market=market, listed=True).order_by("?")[:1])
    roll = rng.random()
    if roll < 0.5 or not live:
        deal = services.discount_create(market=market, **random_deal_fields(rng, categories))
        return f"published {deal.product} at {market.name}"
    deal = live[0]
    if roll < 0.8:
        price = (deal.original_price * Decimal(rng.randint(40, 95)) / 100).quantize(Decimal("0.01"))
        services.discount_update(discount=deal, price=max(price, Decimal("0.01")))
        return f"repriced {deal.product} at {market.name}"
    services.discount_withdraw(discount=deal)
    return f"withdrew {deal.product} at {market.name}"
