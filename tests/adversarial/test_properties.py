"""Property tests: any coordinate, price, date, radius or cursor is either accepted sanely or refused clearly."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from discounts.serializers import DiscountWriteSerializer
from markets.geo import InvalidLocation, clean_lat, clean_radius_km, covering_cells, distance_km
from realtime.cursor import Cursor, InvalidCursor
from realtime.subscriptions import KM_PER_DEGREE_OF_LATITUDE, Subscription

anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=20), st.none(), st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@given(anything)
def test_latitude_is_finite_in_range_or_refused(value):
    try:
        lat = clean_lat(value)
    except InvalidLocation as exc:
        assert str(exc)
    else:
        assert math.isfinite(lat) and -90 <= lat <= 90


# Category slugs are looked up in the database (unknown ones match nothing): without it, the rare
# example with a valid area and a list of slugs failed on the blocked database instead.
@pytest.mark.django_db
@given(anything, anything, anything, st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=60), anything))
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_subscriptions_are_built_or_refused_with_a_message(lat, lng, radius, categories):
    try:
        sub = Subscription.build(lat=lat, lng=lng, radius_km=radius, categories=categories)
    except (InvalidLocation, ValueError) as exc:
        assert str(exc)
    else:
        assert 0.5 <= sub.radius_km <= 50 and sub.cells


@given(st.floats(-85, 85), st.floats(-180, 180), st.floats(0.5, 50))
def test_the_subscription_centre_is_always_covered_and_matches(lat, lng, radius):
    sub = Subscription.build(lat=lat, lng=lng, radius_km=radius)
    assert sub.match([[lat, lng, "any"]]) == 0
    assert len(covering_cells(lat, lng, radius)) <= 61


@given(st.floats(-85, 85), st.floats(-180, 180), st.floats(0.5, 50), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_a_subscription_matches_exactly_the_points_within_its_radius(lat, lng, radius, north, east):
    # Points up to 1.5 radii north or south and east or west: many near the edge, on both sides.
    sub = Subscription.build(lat=lat, lng=lng, radius_km=radius)
    point_lat = max(-90.0, min(90.0, lat + north * radius / KM_PER_DEGREE_OF_LATITUDE))
    point_lng = lng + east * radius / (KM_PER_DEGREE_OF_LATITUDE * math.cos(math.radians(lat)))
    distance = distance_km(lat, lng, point_lat, point_lng)
    matched = sub.match([[point_lat, point_lng, "any"]])
    assert (matched is not None) == (distance <= sub.radius_km)


@given(st.floats(-85, 85), st.floats(-180, 180), st.floats(0.5, 50))
def test_a_point_on_the_edge_of_the_radius_matches(lat, lng, radius):
    # Due north or south of the centre is where the latitude test alone decides.
    sub = Subscription.build(lat=lat, lng=lng, radius_km=radius)
    for north in (radius, -radius):
        edge_lat = lat + north / KM_PER_DEGREE_OF_LATITUDE
        if -90 <= edge_lat <= 90 and distance_km(lat, lng, edge_lat, lng) <= sub.radius_km:
            assert sub.match([[edge_lat, lng, "any"]]) is not None


@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_distance_is_symmetric_and_bounded(lat1, lng1, lat2, lng2):
    d = distance_km(lat1, lng1, lat2, lng2)
    assert 0 <= d <= math.pi * 6371.0088 + 1e-6
    assert d == pytest.approx(distance_km(lat2, lng2, lat1, lng1), abs=1e-9)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_radius_outside_bounds_is_refused(value):
    try:
        radius = clean_radius_km(value)
    except InvalidLocation:
        assert not (math.isfinite(value) and 0.5 <= value <= 50)
    else:
        assert 0.5 <= radius <= 50


@given(st.text(max_size=50))
def test_cursors_decode_or_are_refused(text):
    try:
        cursor = Cursor.decode(text)
    except InvalidCursor:
        return
    assert Cursor.decode(cursor.encode()) == cursor


@given(st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True), st.integers(0, 10**12), st.sets(st.integers(0, 10**12), max_size=20))
def test_cursor_round_trips(epoch, base, extra):
    cursor = Cursor(epoch=epoch, base=base, extra={p for p in extra if p > base})
    assert Cursor.decode(cursor.encode()) == cursor


prices = st.one_of(st.decimals(allow_nan=True, allow_infinity=True, places=3), st.text(max_size=12), st.integers(-10, 10**12))
dates = st.one_of(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: d.isoformat()), st.text(max_size=25))


@given(prices, prices, dates, dates)
@settings(max_examples=200)
def test_discount_input_is_valid_only_when_prices_and_dates_make_sense(original, price, starts_at, ends_at):
    data = {"market": 1, "product": "x", "category": "produce", "original_price": str(original), "price": str(price),
            "starts_at": starts_at, "ends_at": ends_at}
    incoming = DiscountWriteSerializer(data=data)
    if incoming.is_valid():
        valid = incoming.validated_data
        assert 0 < valid["price"] < valid["original_price"]
        assert valid["ends_at"] > valid["starts_at"]
    else:
        assert incoming.errors


@pytest.mark.django_db
@given(anything, anything, anything)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_deal_list_answers_any_location_with_200_or_400(lat, lng, radius):
    params = {k: v for k, v in {"lat": lat, "lng": lng, "radius_km": radius}.items() if v is not None}
    response = APIClient().get("/api/deals/", params)
    assert response.status_code in (200, 400)
