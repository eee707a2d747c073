from collections import Counter, defaultdict

import pytest

from demo.seeding import seed_demo_city
from discounts.models import Discount
from markets.models import Market

pytestmark = pytest.mark.django_db


def test_the_demo_city_reads_like_a_city_and_its_prices_compare_sensibly():
    seed_demo_city()
    deals = list(Discount.objects.select_related("market"))
    # one product is never listed twice by one market
    assert not [key for key, n in Counter((d.market_id, d.product) for d in deals).items() if n > 1]
    # one product's prices across markets stay within a believable band (no 19.34 EUR croissants)
    by_product = defaultdict(list)
    for deal in deals:
        by_product[deal.product].append(deal.original_price)
    assert all(max(prices) <= min(prices) * 2 for prices in by_product.values())
    assert all(9 <= deal.percent_off <= 46 for deal in deals)  # 10–45% off, after rounding to cents
    # markets are named like a city's shops, with districts in their addresses
    assert not Market.objects.filter(name__startswith="Market ").exists()
    assert all(", Berlin" in address for address in Market.objects.values_list("address", flat=True))
    # and seeding again changes nothing
    seed_demo_city()
    assert Discount.objects.count() == len(deals) and Market.objects.count() == 24
