import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from markets.geo import market_cell
from markets.models import Market
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db


def test_h3_cell_is_derived_from_the_location_on_save():
    market = MarketFactory(lat=52.5, lng=13.4)
    assert market.h3_cell == market_cell(52.5, 13.4)
    market.lat = 52.6
    market.save()
    assert Market.objects.get(pk=market.pk).h3_cell == market_cell(52.6, 13.4)


def test_invalid_coordinates_are_a_form_error_and_never_stored():
    market = Market(name="Nowhere", address="-", lat=123.0, lng=13.4)
    with pytest.raises(ValidationError) as excinfo:
        market.full_clean()
    assert "lat" in excinfo.value.message_dict
    with pytest.raises(IntegrityError):
        market.save()
