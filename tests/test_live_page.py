"""The shopper's live page in a real browser, against real daphne, Celery, PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from discounts import services
from discounts.permissions import market_staff_group
from tests.browser import both_viewports, is_phone, log_in, screenshot
from tests.factories import BERLIN, CategoryFactory, MarketFactory, ShopperFactory, UserFactory, create_deal, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def markets():
    north = MarketFactory(name="North market", lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    east_lat, east_lng = offset_km(*BERLIN, east_km=2)
    east = MarketFactory(name="East market", lat=east_lat, lng=east_lng)
    far_lat, far_lng = offset_km(*BERLIN, north_km=40)
    far = MarketFactory(name="Far market", lat=far_lat, lng=far_lng)
    return {"north": north, "east": east, "far": far}


def open_live(new_page, stack, user, **context_options):
    page = new_page(**context_options)
    log_in(page, stack.base_url, user.username)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10000)
    return page


def settle_map(page) -> None:
    """Wait until the map's zoom animation (fitting the radius circle) has finished."""
    expect(page.locator(".leaflet-zoom-anim")).to_have_count(0)
    page.wait_for_function("() => !document.querySelector('.leaflet-pane.leaflet-map-pane').style.transition")


def deal_item(page, deal_id: int):
    return page.locator(f'li.deal[data-deal-id="{deal_id}"]')


def test_shopper_sees_nearby_deals_on_the_list_and_the_map(stack, new_page, markets):
    # given deals at two nearby markets and one far away
    a = create_deal(market=markets["north"], product="Apples")
    b = create_deal(market=markets["east"], product="Butter", price=Decimal("0.99"))
    create_deal(market=markets["far"], product="Far away cheese")
    # when the shopper opens the live page
    page = open_live(new_page, stack, ShopperFactory())
    # then the list and the map show exactly the nearby deals
    expect(page.locator("li.deal")).to_have_count(2)
    expect(deal_item(page, a.pk)).to_contain_text("North market")
    expect(page.locator(".leaflet-marker-icon")).to_have_count(2)
    expect(page.get_by_text("Far away cheese")).to_have_count(0)
    # and sorting by price puts the cheaper deal first
    page.select_option("#sort", "price")
    expect(page.locator("li.deal").first).to_have_attribute("data-deal-id", str(b.pk))
    page.locator(".leaflet-marker-icon").first.click()
    expect(page.locator(".leaflet-popup-content")).to_be_visible()
    assert page.errors == []


def test_browser_location_wins_over_the_saved_one(stack, new_page, markets):
    create_deal(market=markets["north"], product="Apples")
    far_lat, far_lng = offset_km(*BERLIN, north_km=40)
    create_deal(market=markets["far"], product="Far away cheese")
    shopper = ShopperFactory(home_lat=far_lat, home_lng=far_lng)
    page = open_live(
        new_page, stack, shopper, geolocation={"latitude": BERLIN[0], "longitude": BERLIN[1]}, permissions=["geolocation"]
    )
    expect(page.locator("#location-note")).to_contain_text("current location")
    expect(page.get_by_text("Apples")).to_be_visible()
    expect(page.get_by_text("Far away cheese")).to_have_count(0)


def test_a_reconnect_resumes_the_area_on_screen_not_the_saved_one(stack, new_page, markets):
    # given a shopper whose saved location is 40 km away, looking at where the browser says they are
    create_deal(market=markets["north"], product="Apples")
    create_deal(market=markets["far"], product="Far away cheese")
    far_lat, far_lng = offset_km(*BERLIN, north_km=40)
    shopper = ShopperFactory(home_lat=far_lat, home_lng=far_lng)
    page = new_page(geolocation={"latitude": BERLIN[0], "longitude": BERLIN[1]}, permissions=["geolocation"])
    connections = []

    def relay(ws):
        # Pass the socket through, recording what the server sends on each connection.
        server = ws.connect_to_server()
        record = {"url": ws.url, "frames": [], "page": ws, "server": server}
        connections.append(record)

        def from_server(message):
            record["frames"].append(message)
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    page.route_web_socket(re.compile(r"/ws/deals/(\?.*)?$"), relay)
    log_in(page, stack.base_url, shopper.username)
    expect(page.locator("#location-note")).to_contain_text("current location")
    expect(page.get_by_text("Apples")).to_be_visible()
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live")
    # when the connection drops (a network blip) and a deal is published meanwhile
    first = connections[-1]
    first["page"].close(code=4000, reason="network blip")
    first["server"].close()
    expect(page.locator("#conn-status")).not_to_have_attribute("data-state", "live")
    pears = create_deal(market=markets["north"], product="Pears")
    # then the page comes back live on its own area, with the deal it missed
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=15000)
    expect(deal_item(page, pears.pk)).to_be_visible(timeout=10000)
    expect(page.get_by_text("Apples")).to_be_visible()
    expect(page.get_by_text("Far away cheese")).to_have_count(0)
    # and the reconnect never showed the saved location's deals, not even for a moment
    again = connections[-1]
    assert again is not first
    assert f"lat={BERLIN[0]}" in again["url"] and "after=" in again["url"]
    assert not any("Far away cheese" in frame for frame in again["frames"])
    # positive control: the first connection, opened on the saved location, did carry its deals
    assert any("Far away cheese" in frame for frame in first["frames"])
    assert page.errors == []


@both_viewports
def test_status_says_offline_and_comes_back_live_with_what_was_missed(stack, new_page, markets, viewport):
    page = open_live(new_page, stack, ShopperFactory(), viewport=viewport)
    expect(page.locator("#conn-status")).to_have_text(re.compile(r"^Live · updated \d{1,2}:\d\d:\d\d( [AP]M)?$"))
    expect(page.locator("#conn-retry")).to_be_hidden()
    # when the phone loses its network
    page.context.set_offline(True)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#conn-status")).to_contain_text("Offline")
    figs = create_deal(market=markets["north"], product="Figs")
    # then, back online, it is live again with the deal published meanwhile
    page.context.set_offline(False)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=15000)
    expect(deal_item(page, figs.pk)).to_be_visible(timeout=10000)


@both_viewports
def test_cards_say_when_each_deal_ends_and_the_radius_circle_shows(stack, new_page, markets, viewport):
    soon = create_deal(market=markets["north"], product="Soon", ends_at=timezone.now() + timedelta(hours=3, minutes=10))
    later = create_deal(market=markets["east"], product="Later", ends_at=timezone.now() + timedelta(days=3))
    page = open_live(new_page, stack, ShopperFactory(), viewport=viewport)
    expect(deal_item(page, soon.pk).locator("time.ends")).to_have_text("ends in 3 h")
    expect(deal_item(page, later.pk).locator("time.ends")).to_have_text(re.compile(r"^until \w{3},? \d{1,2}:\d\d( [AP]M)?$"))
    # the radius circle is drawn at a visible size (a site-wide chart rule once squashed it to nothing)
    circle = page.locator("path.area")
    expect(circle).to_be_attached()
    settle_map(page)
    box = circle.bounding_box()
    layer = page.locator(".leaflet-overlay-pane svg").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    # on a drawing layer at least the size of the map (a site-wide `svg` rule for the staff charts made
    # it 0 px wide; a layer sized before the page's grid settled cut the circle off)
    map_box = page.locator("#map").bounding_box()
    assert layer["width"] >= map_box["width"] and layer["height"] >= map_box["height"], (layer, map_box)


@both_viewports
def test_denied_location_is_explained_and_the_city_can_be_browsed(stack, new_page, markets, viewport):
    # given a new shopper with no saved location whose browser refuses to share one
    apples = create_deal(market=markets["north"], product="Apples")
    cheese = create_deal(market=markets["far"], product="Far away cheese")
    shopper = ShopperFactory(home_lat=None, home_lng=None)
    page = new_page(viewport=viewport)
    log_in(page, stack.base_url, shopper.username)
    # then the page says why it shows nothing and what to do instead
    expect(page.locator("#location-note")).to_contain_text("did not share your location")
    page.get_by_role("button", name="Use my location").click()
    expect(page.locator("#location-note")).to_contain_text("Click the map to pick a place")
    # and "Browse the whole city" shows the deals of every market
    page.get_by_role("button", name="Browse the whole city").click()
    expect(deal_item(page, apples.pk)).to_be_visible(timeout=10000)
    expect(deal_item(page, cheese.pk)).to_be_visible()
    assert page.errors == []


def test_a_pin_names_its_markets_current_number_of_deals(stack, new_page, markets):
    create_deal(market=markets["north"], product="Apples")
    page = open_live(new_page, stack, ShopperFactory())
    pin = page.locator(".leaflet-marker-icon")
    expect(pin).to_have_attribute("title", "North market (1 deal)")
    create_deal(market=markets["north"], product="Pears")
    expect(pin).to_have_attribute("title", "North market (2 deals)")
    # and its label shows the count and the best price
    expect(page.locator(".pin-label")).to_have_text("2 · from 1.99 EUR")


@both_viewports
def test_the_first_deals_are_on_the_first_screen_with_tap_sized_controls(stack, new_page, markets, viewport):
    for i in range(6):
        create_deal(market=markets["north"], product=f"Fruit {i}")
    page = open_live(new_page, stack, ShopperFactory(), viewport=viewport)
    first = page.locator("li.deal").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    # the first deal starts on the first screen, not below the filters and the map
    assert box["y"] + 40 < viewport["height"], box
    if os.environ.get("DEALCAST_SCREENSHOTS"):
        settle_map(page)
    screenshot(page, "live", viewport)
    # no fallback offered while the saved location serves
    expect(page.get_by_role("button", name="Browse the whole city")).to_be_hidden()
    # and the list is part of the page's own scroll on a phone, not a box scrolling inside it
    if is_phone(viewport):
        list_box = page.locator("#deals").bounding_box()
        map_box = page.locator("#map").bounding_box()
        assert list_box["y"] < map_box["y"]
        page.get_by_text("Filters and location").click()
    for target in [page.locator(".cats label").first, page.get_by_role("button", name="Use my location")]:
        assert target.bounding_box()["height"] >= 44


@both_viewports
def test_live_changes_are_seen_pill_price_drop_and_withdrawal(stack, new_page, markets, viewport):
    # given a list with more deals than fit on the screen (a phone's page, a laptop's list box)
    deals = [create_deal(market=markets["north"], product=f"Fruit {i}") for i in range(12)]
    page = open_live(new_page, stack, ShopperFactory(), viewport=viewport)
    expect(page.locator("li.deal")).to_have_count(12)
    expect(deal_item(page, deals[-1].pk)).not_to_be_in_viewport()
    pill = page.locator("#new-deals")
    expect(pill).to_be_hidden()  # positive control: nothing new yet
    # when a deal is published that lands below the fold (the farthest, sorted by distance)
    late = create_deal(market=markets["east"], product="Late plums")
    expect(deal_item(page, late.pk)).to_be_attached(timeout=10000)
    # then a pill says so and brings it into view
    expect(pill).to_have_text("1 new deal ↓")
    pill.click()
    expect(deal_item(page, late.pk)).to_be_in_viewport()
    expect(pill).to_be_hidden()
    # a price drop shows old and new price on the card and is announced
    services.discount_update(discount=deals[0], price=Decimal("1.49"))
    expect(deal_item(page, deals[0].pk).locator(".drop")).to_have_text("Price drop 1.99 → 1.49")
    expect(page.locator("#announce")).to_contain_text("Price drop: Fruit 0 now 1.49 EUR")
    # and a withdrawal is announced as it disappears
    services.discount_withdraw(discount=deals[1])
    expect(deal_item(page, deals[1].pk)).to_have_count(0)
    expect(page.locator("#announce")).to_have_text(f"Withdrawn: Fruit 1 at {markets['north'].name}")
    assert page.errors == []


def test_a_card_and_its_markets_pin_point_at_each_other(stack, new_page, markets):
    apples = create_deal(market=markets["north"], product="Apples")
    butter = create_deal(market=markets["east"], product="Butter")
    page = open_live(new_page, stack, ShopperFactory())
    card = deal_item(page, apples.pk)
    # the card names the market with its address and a way there
    expect(card).to_contain_text(markets["north"].address)
    expect(card.get_by_role("link", name="Directions")).to_have_attribute("href", re.compile(r"openstreetmap\.org/directions"))
    # choosing the card opens its market's popup, which names the market once
    card.locator(".product").click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Apples")
    expect(popup.get_by_text(markets["north"].name)).to_have_count(1)
    expect(card).to_have_class(re.compile(r"\bselected\b"))
    # choosing the other market's pin highlights its card instead (positive control: not all cards)
    page.locator(".leaflet-marker-icon[title^='East market']").click()
    expect(deal_item(page, butter.pk)).to_have_class(re.compile(r"\bselected\b"))
    expect(card).not_to_have_class(re.compile(r"\bselected\b"))
    # and the point the deals are measured from is on the map
    expect(page.locator("path.here")).to_have_count(1)


def test_preferences_find_a_place_by_name_or_use_where_the_shopper_is(stack, new_page, markets):
    shopper = ShopperFactory(home_lat=None, home_lng=None)
    page = new_page(geolocation={"latitude": 52.5, "longitude": 13.3}, permissions=["geolocation"])
    log_in(page, stack.base_url, shopper.username)
    page.goto(f"{stack.base_url}/accounts/preferences/")
    # a market's name (or street) finds the place, no outside geocoder needed
    page.fill("#place-search", "North")
    page.locator("#place-search").dispatch_event("change")
    expect(page.locator("#place-note")).to_contain_text("North market")
    assert abs(float(page.input_value("#id_home_lat")) - markets["north"].lat) < 1e-5
    # a name that is nowhere says so (positive control for the match)
    page.fill("#place-search", "Atlantis")
    page.locator("#place-search").dispatch_event("change")
    expect(page.locator("#place-note")).to_contain_text("No market or street by that name")
    # and "Use my current location" takes the browser's
    page.get_by_role("button", name="Use my current location").click()
    expect(page.locator("#id_home_lat")).to_have_value("52.500000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Preferences saved")
    shopper.refresh_from_db()
    assert (shopper.home_lat, shopper.home_lng) == (52.5, 13.3)


def _admin_field(staff_page, name: str, value: str) -> None:
    staff_page.fill(f"[name={name}]", value)


def test_staff_publish_update_and_withdraw_show_live_without_reload(stack, new_page, markets):
    # given a shopper with the live page open
    shopper_page = open_live(new_page, stack, ShopperFactory())
    expect(shopper_page.locator("li.empty")).to_be_visible()
    shopper_page.evaluate("window.__not_reloaded = true")
    # and the north market's staff in Django admin, in another browser
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    markets["north"].staff.add(staff)
    CategoryFactory(slug="bakery", name="Bakery")
    staff_page = new_page()
    log_in(staff_page, stack.base_url, staff.username, next_path="/admin/discounts/discount/add/")
    # when staff publish a deal
    staff_page.select_option("[name=market]", label="North market")
    _admin_field(staff_page, "product", "Fresh pretzel")
    staff_page.select_option("[name=category]", label="Bakery")
    _admin_field(staff_page, "original_price", "1.20")
    _admin_field(staff_page, "price", "0.80")
    _admin_field(staff_page, "starts_at_0", "2020-01-01")
    _admin_field(staff_page, "starts_at_1", "00:00:00")
    _admin_field(staff_page, "ends_at_0", "2099-01-01")
    _admin_field(staff_page, "ends_at_1", "00:00:00")
    staff_page.click("input[name=_continue]")
    expect(staff_page.locator(".messagelist .success")).to_be_visible()
    # then it slides into the shopper's page, highlighted, with a notice
    item = shopper_page.locator("li.deal", has_text="Fresh pretzel")
    expect(item).to_be_visible(timeout=5000)
    expect(item).to_have_class("deal fresh")
    expect(shopper_page.locator("#notice")).to_contain_text("Fresh pretzel")
    deal_id = item.get_attribute("data-deal-id")
    # when staff change the price, it updates in place
    _admin_field(staff_page, "price", "0.50")
    staff_page.click("input[name=_continue]")
    expect(deal_item(shopper_page, int(deal_id))).to_contain_text("0.50 EUR", timeout=5000)
    expect(shopper_page.locator("li.deal")).to_have_count(1)
    # when staff withdraw it with the bulk action, it disappears
    staff_page.goto(f"{stack.base_url}/admin/discounts/discount/")
    staff_page.check(f"input[name=_selected_action][value='{deal_id}']")
    staff_page.select_option("select[name=action]", "withdraw_selected")
    staff_page.click("button[name=index]")
    expect(deal_item(shopper_page, int(deal_id))).to_have_count(0, timeout=5000)
    assert shopper_page.evaluate("window.__not_reloaded") is True


def test_with_the_socket_blocked_the_page_polls_and_still_gets_the_deal(stack, new_page, markets):
    page = new_page()
    # Every socket to /ws/deals/, with or without the area and cursor in its query string.
    page.route_web_socket(re.compile(r"/ws/deals/(\?.*)?$"), lambda ws: ws.close())
    log_in(page, stack.base_url, ShopperFactory().username)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "polling", timeout=15000)
    expect(page.locator("#conn-status")).to_have_text(re.compile(r"^Updates every few seconds · updated \d{1,2}:\d\d:\d\d"))
    expect(page.locator("#conn-retry")).to_be_visible()
    expect(page.locator("li.empty")).to_be_visible()
    deal = create_deal(market=markets["north"], product="Polled plums")
    expect(deal_item(page, deal.pk)).to_be_visible(timeout=10000)
    services.discount_withdraw(discount=deal)
    expect(deal_item(page, deal.pk)).to_have_count(0, timeout=10000)


def test_xss_in_every_user_written_field_shows_as_text_and_runs_nothing(stack, new_page, markets):
    # given a market, a category and products whose names are script payloads
    lat, lng = offset_km(*BERLIN, east_km=1)
    evil_market = MarketFactory(name=XSS + " market", address=XSS + " street", lat=lat, lng=lng)
    evil_category = CategoryFactory(slug="evil", name=XSS + " category")
    create_deal(market=evil_market, category=evil_category, product=XSS)
    page = open_live(new_page, stack, ShopperFactory())
    # the list
    item = page.locator("li.deal", has_text=XSS)
    expect(item).to_contain_text(XSS + " market")
    expect(item).to_contain_text(XSS + " category")
    # the live notice
    create_deal(market=evil_market, product=XSS + " live")
    expect(page.locator("#notice")).to_contain_text(XSS + " live", timeout=5000)
    expect(page.locator("#notice")).to_contain_text(XSS + " market")
    # the map popup
    page.locator(".leaflet-marker-icon").first.click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(XSS + " street")
    # the filter labels and the search page
    expect(page.locator("fieldset.cats")).to_contain_text(XSS + " category")
    page.goto(f"{stack.base_url}/search/?q=img")
    expect(page.locator("table").first).to_contain_text(XSS + " street")
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
