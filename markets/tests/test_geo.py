import math
import random

import h3
import pytest

from markets.geo import InvalidLocation, clean_lat, clean_radius_km, covering_cells, distance_km
from tests.factories import offset_km


def test_covering_cells_contain_every_point_of_the_circle():
    # given random circles across the allowed radii
    rng = random.Random(7)
    for _ in range(200):
        lat, lng, radius = rng.uniform(-60, 60), rng.uniform(-170, 170), rng.uniform(0.5, 50)
        cells = set(covering_cells(lat, lng, radius))
        res = h3.get_resolution(next(iter(cells)))
        # when a point lies inside the circle
        bearing, reach = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.random())
        plat, plng = offset_km(lat, lng, reach * math.cos(bearing), reach * math.sin(bearing))
        if distance_km(lat, lng, plat, plng) > radius:
            continue
        # then its cell is one the subscription joins
        assert h3.latlng_to_cell(plat, plng, res) in cells


def test_wide_radius_uses_few_coarse_cells():
    assert len(covering_cells(52.52, 13.40, 50)) <= 61
    assert len(covering_cells(52.52, 13.40, 0.5)) <= 61


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 91, -90.5, "x", None])
def test_bad_latitude_is_rejected_with_a_message(value):
    with pytest.raises(InvalidLocation):
        clean_lat(value)


@pytest.mark.parametrize("value", [0.4, 50.1, -1, float("nan")])
def test_radius_out_of_bounds_is_rejected(value):
    with pytest.raises(InvalidLocation, match="radius_km"):
        clean_radius_km(value)
