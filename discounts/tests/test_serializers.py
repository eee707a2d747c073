from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest

from discounts.serializers import DealSerializer, deal_data
from tests.factories import create_deal

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("original, price", [(Decimal("3.00"), Decimal("1.99")), (Decimal("1000"), Decimal("0.5"))])
def test_deal_data_renders_a_deal_exactly_as_the_api_serializer_does(original, price):
    # given a deal with odd decimals and a start with microseconds
    deal = create_deal(original_price=original, price=price,
                       starts_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt_timezone.utc))
    deal.refresh_from_db()
    # then the event's Deal and the API's Deal are the same JSON
    assert deal_data(deal) == dict(DealSerializer(deal).data)
    deal.distance_km = 1.23456
    assert deal_data(deal, distance_km=deal.distance_km) == dict(DealSerializer(deal).data)
