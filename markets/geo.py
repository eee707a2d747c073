"""Geography for a city: coordinate validation, great-circle distance and H3 cells.

Markets are indexed at ``MARKET_RESOLUTION`` (H3 res 7: hexagons of ~5 km², edge ~1.4 km), which
puts a city of ~2,500 km² into about 500 cells. Every event is also published to the market's parent
cell at ``COARSE_RESOLUTION`` (res 5, edge ~9 km), so a shopper with a wide radius joins a few dozen
coarse groups instead of hundreds of fine ones.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from functools import lru_cache

import h3

EARTH_RADIUS_KM = 6371.0088
MARKET_RESOLUTION = 7
COARSE_RESOLUTION = 5
RESOLUTIONS = (MARKET_RESOLUTION, COARSE_RESOLUTION)
MIN_RADIUS_KM = 0.5
MAX_RADIUS_KM = 50.0
# A shopper's subscription switches to coarse cells once the fine disk would exceed this many.
MAX_FINE_CELLS = 61


class InvalidLocation(ValueError):
    """A latitude, longitude or radius outside what the app accepts."""


# What the contract calls a number in a query string: plain ASCII decimal notation. Python's float()
# would also take "1_0", " 1", "１" (full-width) and "nan"; JSON's true is not a number either.
NUMBER_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)


def parse_number(value: object, name: str) -> float:
    """A number from JSON (int or float, never a bool) or from decimal text; else ``InvalidLocation``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidLocation(f"{name} must be a number.")
    if isinstance(value, str) and not NUMBER_TEXT.fullmatch(value):
        raise InvalidLocation(f"{name} must be a number written in decimal digits.")
    return float(value)


def _finite(value: object, name: str) -> float:
    number = parse_number(value, name)
    if not math.isfinite(number):
        raise InvalidLocation(f"{name} must be a finite number.")
    return number


def clean_lat(value: object) -> float:
    lat = _finite(value, "lat")
    if not -90.0 <= lat <= 90.0:
        raise InvalidLocation("lat must be between -90 and 90.")
    return lat


def clean_lng(value: object) -> float:
    lng = _finite(value, "lng")
    if not -180.0 <= lng <= 180.0:
        raise InvalidLocation("lng must be between -180 and 180.")
    return lng


def clean_radius_km(value: object) -> float:
    radius = _finite(value, "radius_km")
    if not MIN_RADIUS_KM <= radius <= MAX_RADIUS_KM:
        raise InvalidLocation(f"radius_km must be between {MIN_RADIUS_KM:g} and {MAX_RADIUS_KM:g}.")
    return radius


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def market_cell(lat: float, lng: float) -> str:
    return h3.latlng_to_cell(lat, lng, MARKET_RESOLUTION)


def routing_cells(lat: float, lng: float) -> list[str]:
    """The cells, one per resolution, whose groups receive an event at this point."""
    return [h3.latlng_to_cell(lat, lng, res) for res in RESOLUTIONS]


@dataclass(frozen=True)
class BoundingBox:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float


def bounding_box(lat: float, lng: float, radius_km: float) -> BoundingBox:
    """A lat/lng box that contains the circle; used to narrow indexed queries before exact distance."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlng = min(180.0, math.degrees(radius_km / (EARTH_RADIUS_KM * cos_lat)))
    return BoundingBox(max(-90.0, lat - dlat), min(90.0, lat + dlat), lng - dlng, lng + dlng)


def covering_cells(lat: float, lng: float, radius_km: float) -> list[str]:
    """The fewest H3 cells, at the finest resolution that keeps the set small, that cover the circle.

    A ring of k hexagons around the centre reaches at least k times the inradius (edge * sqrt(3)/2 *
    2 per ring step); one extra ring absorbs the centre's offset inside its own cell. Of that disk only
    the cells that can hold a point of the circle are kept: a cell whose centre is farther than the
    radius plus the cell's own circumradius (its farthest vertex) has no point within the radius. A
    2 km circle keeps ~9 of 19 cells, so a deal is offered to far fewer sockets that then drop it.
    """
    for res in RESOLUTIONS:
        edge = h3.average_hexagon_edge_length(res, unit="km")
        k = math.ceil(radius_km / (edge * math.sqrt(3))) + 1
        if 1 + 3 * k * (k + 1) <= MAX_FINE_CELLS or res == RESOLUTIONS[-1]:
            disk = h3.grid_disk(h3.latlng_to_cell(lat, lng, res), k)
            # A socket holds its cells for its whole life: interned, a city's sockets share its few
            # hundred cell names instead of each holding its own copies (~0.5 KB a socket).
            return [sys.intern(cell) for cell in disk if _may_overlap(cell, lat, lng, radius_km)]
    raise AssertionError("unreachable")


def _may_overlap(cell: str, lat: float, lng: float, radius_km: float) -> bool:
    centre_lat, centre_lng, reach = _centre_and_reach(cell)
    return distance_km(lat, lng, centre_lat, centre_lng) <= radius_km + reach


# A city has a few hundred cells at each resolution, and every subscription walks some of them.
@lru_cache(maxsize=65_536)
def _centre_and_reach(cell: str) -> tuple[float, float, float]:
    """A cell's centre and the distance from it to its farthest vertex, with 1% slack for the cell's
    edges bulging past the chords between its vertices."""
    centre = h3.cell_to_latlng(cell)
    reach = max(distance_km(*centre, *vertex) for vertex in h3.cell_to_boundary(cell))
    return centre[0], centre[1], reach * 1.01
