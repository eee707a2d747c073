"""The demo city (Berlin) and the market activity the demo and the benchmarks drive."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from demo.accounts import DEMO_PASSWORDS
from discounts import services
from discounts.models import Category, Discount
from discounts.permissions import market_staff_group
from markets.models import Market

CITY_CENTER = (52.5200, 13.4050)
CITY_SPAN = (0.12, 0.20)  # degrees of lat/lng either side: about 27 km x 27 km
MARKET_COUNT = 24
DEALS_PER_MARKET = 14
# Each product with a usual shelf price in EUR: markets vary it a little, deals take 10–45% off, so
# comparing one product across markets shows believable prices.
CATEGORIES = {
    "produce": ("Fruit & vegetables", [("Apples 1kg", "2.99"), ("Bananas 1kg", "1.69"), ("Tomatoes 500g", "1.99"),
                                       ("Avocado", "1.29"), ("Strawberries 250g", "2.49")]),
    "dairy": ("Dairy", [("Whole milk 1L", "1.15"), ("Greek yoghurt 500g", "2.29"), ("Butter 250g", "2.39"),
                        ("Gouda 400g", "3.79"), ("Eggs (10)", "3.29")]),
    "bakery": ("Bakery", [("Sourdough loaf", "3.95"), ("Croissants (4)", "2.79"), ("Pretzel", "0.89"),
                          ("Rye bread 750g", "2.99"), ("Bagels (6)", "2.49")]),
    "meat": ("Meat & fish", [("Chicken breast 500g", "6.49"), ("Salmon fillet 250g", "5.99"),
                             ("Minced beef 500g", "4.99"), ("Bratwurst (4)", "3.99")]),
    "drinks": ("Drinks", [("Orange juice 1L", "2.19"), ("Sparkling water 6x1.5L", "3.49"), ("Cola 1.5L", "1.79"),
                          ("Coffee beans 1kg", "13.99")]),
    "pantry": ("Pantry", [("Pasta 500g", "1.49"), ("Olive oil 750ml", "8.99"), ("Basmati rice 1kg", "2.99"),
                          ("Tomato sauce 400g", "1.29")]),
    "frozen": ("Frozen", [("Frozen pizza", "3.49"), ("Ice cream 1L", "3.99"), ("Frozen peas 1kg", "2.49"),
                          ("Fish fingers (15)", "3.79")]),
    "household": ("Household", [("Laundry detergent 20 loads", "5.99"), ("Dish soap 500ml", "1.49"),
                                ("Paper towels (4)", "2.99"), ("Trash bags (30)", "2.29")]),
    "snacks": ("Snacks", [("Dark chocolate 100g", "1.79"), ("Crisps 175g", "1.99"), ("Salted peanuts 200g", "1.89"),
                          ("Gummy bears 200g", "1.29")]),
    "baby": ("Baby", [("Diapers size 4 (44)", "11.99"), ("Baby wipes (80)", "1.99"), ("Baby porridge 250g", "2.79")]),
}
CHAINS = ["Frischmarkt", "Kiezladen", "Bio-Eck", "Nahkauf", "Marktkorb", "Grünzeug"]
DISTRICTS = ["Mitte", "Kreuzberg", "Neukölln", "Friedrichshain", "Prenzlauer Berg", "Schöneberg", "Wedding", "Moabit",
             "Charlottenburg", "Pankow", "Treptow", "Lichtenberg"]
STREETS = ["Hauptstraße", "Bahnhofstraße", "Lindenallee", "Schillerstraße", "Parkstraße", "Oranienstraße",
           "Kastanienallee", "Bergmannstraße", "Sonnenallee", "Turmstraße", "Karl-Marx-Straße", "Greifswalder Straße"]


def _user(username: str, password: str, **fields) -> User:
    user, created = User.objects.get_or_create(username=username, defaults=fields)
    if created:
        user.set_password(password)
        user.save()
    return user


def random_deal_fields(rng: random.Random, categories: list[Category], *, taken: set[str] | None = None) -> dict:
    """A believable deal: a product at about its usual price, 10–45% off, ending at some evening hour in
    the next days. ``taken`` are products the market already lists, not offered twice."""
    known = [c for c in categories if c.slug in CATEGORIES]
    choices = [(c, name, base) for c in known for name, base in CATEGORIES[c.slug][1] if name not in (taken or ())]
    category, product, base = rng.choice(choices or [(c, n, b) for c in known for n, b in CATEGORIES[c.slug][1]])
    original = (Decimal(base) * Decimal(rng.randint(92, 110)) / 100).quantize(Decimal("0.01"))
    price = (original * Decimal(rng.randint(55, 90)) / 100).quantize(Decimal("0.01"))
    closing = timezone.localtime().replace(minute=0, second=0, microsecond=0, hour=rng.choice([18, 20, 22]))
    return {
        "product": product,
        "category": category,
        "original_price": original,
        "price": max(min(price, original - Decimal("0.01")), Decimal("0.01")),
        "ends_at": closing + timedelta(days=rng.randint(1, 6)),
    }


@transaction.atomic
def seed_demo_city(*, seed: int = 42) -> dict:
    """Create the demo city; running it again changes nothing."""
    rng = random.Random(seed)
    categories = [
        Category.objects.get_or_create(slug=slug, defaults={"name": name})[0] for slug, (name, _) in CATEGORIES.items()
    ]
    group = market_staff_group()
    _user("admin", DEMO_PASSWORDS["admin"], is_staff=True, is_superuser=True, email="admin@example.com",
          email_verified=True)
    shopper = _user(
        "shopper", DEMO_PASSWORDS["shopper"], home_lat=CITY_CENTER[0], home_lng=CITY_CENTER[1],
        radius_km=Decimal("5.0"), email="shopper@example.com", email_verified=True,
    )
    created_deals = 0
    for index in range(1, MARKET_COUNT + 1):
        lat = CITY_CENTER[0] + rng.uniform(-CITY_SPAN[0], CITY_SPAN[0])
        lng = CITY_CENTER[1] + rng.uniform(-CITY_SPAN[1], CITY_SPAN[1])
        district = DISTRICTS[(index - 1) % len(DISTRICTS)]
        name = f"{CHAINS[(index - 1) % len(CHAINS)]} {district}"
        address = f"{rng.choice(STREETS)} {rng.randint(1, 200)}, {district}, Berlin"
        staff = _user(f"staff{index:02d}", DEMO_PASSWORDS["staff"], is_staff=True)
        staff.groups.add(group)
        # Keyed by its staff member, so a city seeded before (other names) is reused, not doubled.
        market = staff.markets.first() or Market.objects.create(name=name, address=address, lat=lat, lng=lng)
        market.staff.add(staff)
        if not market.discounts.exists():
            taken: set[str] = set()
            for _ in range(DEALS_PER_MARKET):
                fields = random_deal_fields(rng, categories, taken=taken)
                taken.add(fields["product"])
                services.discount_create(market=market, **fields)
                created_deals += 1
    return {"shopper": shopper.username, "created_deals": created_deals}


def simulate_step(rng: random.Random, *, markets: list[Market] | None = None,
                  categories: list[Category] | None = None) -> str:
    """One market action through the staff code paths: publish, reprice or withdraw.

    A caller that drives many (the benchmark) passes the city's markets and categories, read once:
    picking them by query for every action was half of the benchmark driver's CPU at 75 actions/s
    (py-spy), on the two cores the servers it measures share.
    """
    market = rng.choice(markets) if markets else Market.objects.order_by("?").first()
    categories = categories or list(Category.objects.all())
    listed = dict(Discount.objects.filter(market=market, listed=True).order_by("pk").values_list("pk", "product"))
    roll = rng.random()
    if roll < 0.5 or not listed:
        fields = random_deal_fields(rng, categories, taken=set(listed.values()))
        deal = services.discount_create(market=market, **fields)
        return f"published {deal.product} at {market.name}"
    deal = Discount.objects.get(pk=rng.choice(list(listed)))
    if roll < 0.8:
        price = (deal.original_price * Decimal(rng.randint(55, 90)) / 100).quantize(Decimal("0.01"))
        services.discount_update(discount=deal, price=max(price, Decimal("0.01")))
        return f"repriced {deal.product} at {market.name}"
    services.discount_withdraw(discount=deal)
    return f"withdrew {deal.product} at {market.name}"
