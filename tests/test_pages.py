"""The pages around the live one, in a real browser on a phone and a laptop: what a visitor browses,
what a shopper searches, the mail a forgetful shopper gets, and what staff read in admin and on their
dashboard. Served by the real stack; mail goes through a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from discounts.models import Discount
from discounts.permissions import market_staff_group
from tests.browser import both_viewports, fits_width, is_phone, log_in, screenshot
from tests.factories import BERLIN, CategoryFactory, MarketFactory, ShopperFactory, UserFactory, create_deal, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN_TIME = ZoneInfo("Europe/Berlin")


def staff_of(market):
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market.staff.add(staff)
    return staff


@both_viewports
def test_a_visitor_browses_the_citys_deals_on_a_map_and_is_invited_to_sign_up(stack, new_page, viewport):
    # given two markets with deals and a deal that has ended
    north = MarketFactory(name="North market", lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    east = MarketFactory(name="East market", lat=BERLIN[0], lng=offset_km(*BERLIN, east_km=2)[1])
    cherries = create_deal(market=north, product="Cherries", price="1.00", original_price="2.00")
    create_deal(market=north, product="Plums", price="1.50", original_price="2.00")
    butter = create_deal(market=east, product="Butter", price="0.99", original_price="1.50")
    # when a visitor without an account opens the site
    page = new_page(viewport=viewport)
    page.goto(stack.base_url + "/")
    # then the first page shows the city's best deals, invites to sign up and leads to the whole city on a map
    expect(page.get_by_role("heading", name="The city's biggest discounts now")).to_be_visible()
    expect(page.locator("tr[data-deal-id]").first).to_have_attribute("data-deal-id", str(cherries.pk))
    expect(page.locator(".cta").get_by_role("link", name="Sign up")).to_be_visible()
    assert fits_width(page, viewport)
    page.get_by_role("link", name="Every deal in the city, on a map").click()
    expect(page).to_have_url(re.compile(r"/city/$"))
    expect(page.locator("tr[data-deal-id]")).to_have_count(3)
    assert fits_width(page, viewport)
    # biggest discount first, each with its end and a way to the market
    expect(page.locator("tr[data-deal-id]").first).to_have_attribute("data-deal-id", str(cherries.pk))
    expect(page.locator(f'tr[data-deal-id="{cherries.pk}"] time.ends')).to_have_text(re.compile(r"^(ends in \d+ h|until \w{3} \d\d:\d\d)$"))
    # one pin per market, with its number of deals and best price
    expect(page.locator(".leaflet-marker-icon")).to_have_count(2)
    expect(page.locator(".leaflet-marker-icon[title='North market (2 deals)']")).to_have_count(1)
    expect(page.locator(".pin-label", has_text="2 · from 1.00 EUR")).to_have_count(1)
    screenshot(page, "city", viewport, full_page=True)
    # choosing a pin marks that market's deals in the table (and only those)
    page.locator(".leaflet-marker-icon[title^='East market']").click()
    expect(page.locator(f'tr[data-deal-id="{butter.pk}"]')).to_have_class("selected")
    expect(page.locator(f'tr[data-deal-id="{cherries.pk}"]')).not_to_have_class("selected")
    # a visitor can search too, and is invited to sign up
    page.fill("input[name=q]", "cherry")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tr[data-deal-id]")).to_have_count(1)
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    page.locator(".cta").get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    assert fits_width(page, viewport)
    assert page.errors == []


@both_viewports
def test_a_visitor_finds_milk_at_the_cheapest_market_and_opens_its_page(stack, new_page, viewport):
    # given milk at two markets, and a product that only shares letters with it
    corner = MarketFactory(name="Corner market", address="Kastanienallee 1, Berlin")
    big = MarketFactory(name="Big market", address="Sonnenallee 9, Berlin", lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    cheap = create_deal(market=corner, product="Whole milk 1L", price="0.79", original_price="1.15")
    create_deal(market=big, product="Whole milk 1L", price="0.99", original_price="1.15")
    create_deal(market=big, product="Minced beef 500g", price="3.49", original_price="4.99")
    # when a visitor without an account searches the city for milk, cheapest first
    page = new_page(viewport=viewport)
    page.goto(stack.base_url + "/city/?q=milk&ordering=price")
    rows = page.locator("tr[data-deal-id]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-deal-id", str(cheap.pk))
    # and opens the cheapest one
    rows.first.get_by_role("link", name="Whole milk 1L").click()
    expect(page).to_have_url(re.compile(rf"/deals/{cheap.pk}/$"))
    # then its page says what, how much, until when and where, with a map and the other market's price
    expect(page.get_by_role("heading", name="Whole milk 1L", exact=True)).to_be_visible()
    expect(page.locator(".deal-price .price")).to_have_text("0.79 EUR")
    expect(page.get_by_role("link", name="Corner market")).to_have_attribute("href", f"/markets/{corner.pk}/")
    expect(page.get_by_role("link", name="Directions")).to_have_attribute("href", re.compile(r"openstreetmap\.org/directions"))
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(page.locator(".other-prices li")).to_contain_text("Big market")
    expect(page.get_by_role("button", name="Share this deal")).to_be_visible()
    # a shared link previews with the deal's own title
    assert page.locator('meta[property="og:title"]').get_attribute("content") == "Whole milk 1L for 0.79 EUR (−31%)"
    screenshot(page, "deal", viewport, full_page=True)
    assert fits_width(page, viewport)
    # the market's page lists its deals
    page.get_by_role("link", name="Corner market").click()
    expect(page.get_by_role("heading", name="Corner market")).to_be_visible()
    expect(page.locator("#market-deals li")).to_have_count(1)
    assert fits_width(page, viewport)
    assert page.errors == []


@both_viewports
def test_a_visitor_who_shares_their_location_sees_the_deals_around_them(stack, new_page, viewport):
    near = MarketFactory(name="Around the corner", lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    far = MarketFactory(name="Across town", lat=offset_km(*BERLIN, north_km=12)[0], lng=BERLIN[1])
    close = create_deal(market=near, product="Cherries", price="1.80", original_price="2.00")
    create_deal(market=far, product="Plums", price="0.50", original_price="2.00")
    page = new_page(viewport=viewport, geolocation={"latitude": BERLIN[0], "longitude": BERLIN[1]}, permissions=["geolocation"])
    page.goto(stack.base_url + "/")
    # the browser already allows the location: the page comes back with the deals within 5 km, nearest first
    expect(page.get_by_role("heading", name="Deals within 5 km of you")).to_be_visible(timeout=10000)
    expect(page.locator("tr[data-deal-id]")).to_have_count(1)
    expect(page.locator("tr[data-deal-id]").first).to_have_attribute("data-deal-id", str(close.pk))
    expect(page.locator("tr[data-deal-id]").first).to_contain_text("1.0 km")
    # positive control: the whole city's best has the bigger discount across town
    page.get_by_role("link", name="Show the whole city's best instead").click()
    expect(page.locator("tr[data-deal-id]")).to_have_count(2)
    expect(page.locator("tr[data-deal-id]").first).to_contain_text("Plums")
    assert fits_width(page, viewport)
    assert page.errors == []


@both_viewports
def test_search_finds_a_spelling_variant_and_each_row_is_a_complete_deal(stack, new_page, viewport):
    market = MarketFactory(name="Corner market", address="Kastanienallee 1, Berlin")
    dairy = CategoryFactory(slug="dairy", name="Dairy")
    yoghurt = create_deal(market=market, category=dairy, product="Greek yoghurt 500g", ends_at=timezone.now() + timedelta(hours=2, minutes=5))
    create_deal(market=market, product="Sourdough bread")
    page = new_page(viewport=viewport)
    log_in(page, stack.base_url, ShopperFactory().username, next_path="/search/")
    page.fill("input[name=q]", "yogurt")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tr[data-deal-id]")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_have_attribute("data-deal-id", str(yoghurt.pk))
    expect(row).to_contain_text("Greek yoghurt 500g")
    expect(row).to_contain_text("Kastanienallee 1, Berlin")
    expect(row.locator("time.ends")).to_have_text("ends in 2 h")
    expect(row.get_by_role("link", name="Directions")).to_have_attribute("href", re.compile(r"openstreetmap\.org/directions"))
    # positive control: a word that is in no product finds nothing
    page.fill("input[name=q]", "anchovies")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No active deals match.")).to_be_visible()
    assert fits_width(page, viewport)


@both_viewports
def test_a_forgotten_password_is_reset_through_the_mail_that_arrives(stack, new_page, mailbox, viewport):
    shopper = ShopperFactory(email=f"forgetful-{viewport['width']}@example.com")
    page = new_page(viewport=viewport)
    page.goto(stack.base_url + "/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.fill("input[name=email]", shopper.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("main")).to_contain_text("check your mail", ignore_case=True)
    # the mail arrives over SMTP with a link back to this site
    mail = mailbox.wait_for(shopper.email)
    assert mail["Subject"].startswith("Your Dealcast password")
    link = re.search(r"https?://\S+/accounts/reset/\S+", mail.get_content()).group(0)
    assert link.startswith(stack.base_url)
    page.goto(link)
    page.fill("input[name=new_password1]", "a-new plum 4711")
    page.fill("input[name=new_password2]", "a-new plum 4711")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    log_in(page, stack.base_url, shopper.username, password="a-new plum 4711")
    expect(page.locator("#conn-status")).to_be_visible()
    assert fits_width(page, viewport)


@both_viewports
def test_a_new_shopper_confirms_their_address_from_the_mail_before_any_digest(stack, new_page, mailbox, viewport):
    email = f"newcomer-{viewport['width']}@example.com"
    page = new_page(viewport=viewport)
    page.goto(stack.base_url + "/accounts/signup/")
    page.fill("input[name=username]", f"newcomer{viewport['width']}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", "a long plum 4711")
    page.fill("input[name=password2]", "a long plum 4711")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/accounts/preferences/$"))
    # the digest cannot be chosen yet: the page says the address waits for its confirmation
    page.goto(stack.base_url + "/notifications/")
    expect(page.locator("#email-unverified")).to_contain_text(f"{email} is not confirmed yet")
    page.select_option("select[name=digest]", "daily")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Confirm your e-mail address first")).to_be_visible()
    # the worker mailed a link to this site; following it confirms the address
    mail = mailbox.wait_for(email)
    link = re.search(r"https?://\S+/accounts/verify-email/\S+/", mail.get_content()).group(0)
    assert link.startswith(stack.base_url)
    page.goto(link)
    expect(page.get_by_role("heading", name="Address confirmed")).to_be_visible()
    # then the digest can be chosen
    page.goto(stack.base_url + "/notifications/")
    expect(page.locator("#email-unverified")).to_have_count(0)
    page.select_option("select[name=digest]", "daily")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Notification settings saved.")).to_be_visible()
    assert fits_width(page, viewport)
    assert page.errors == []


@both_viewports
def test_staff_enter_and_read_times_in_the_citys_time_zone(stack, new_page, viewport):
    market = MarketFactory(name="Corner market")
    CategoryFactory(slug="bakery", name="Bakery")
    staff = staff_of(market)
    page = new_page(viewport=viewport, timezone_id="Europe/Berlin")
    log_in(page, stack.base_url, staff.username, next_path="/admin/discounts/discount/add/")
    # the form starts now, in Berlin, with no "you are 1 hour ahead of server time" note
    expect(page.locator("[name=starts_at_1]")).to_have_value(re.compile(r"^\d\d:\d\d:\d\d$"))
    typed_start = page.input_value("[name=starts_at_1]")
    now_berlin = timezone.now().astimezone(BERLIN_TIME)
    started = now_berlin.replace(hour=int(typed_start[:2]), minute=int(typed_start[3:5]))
    assert abs((started - now_berlin).total_seconds()) < 120, (typed_start, now_berlin)
    expect(page.locator(".timezonewarning")).to_have_count(0)
    # when staff type a deal that ends at 20:00 tomorrow
    tomorrow = (now_berlin + timedelta(days=1)).date().isoformat()
    page.fill("[name=product]", "Evening bread")
    page.select_option("[name=category]", label="Bakery")
    page.fill("[name=original_price]", "3.00")
    page.fill("[name=price]", "2.00")
    page.fill("[name=ends_at_0]", tomorrow)
    page.fill("[name=ends_at_1]", "20:00:00")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    # then it ends at 20:00 in Berlin, and the form shows 20:00 again
    deal = Discount.objects.get(product="Evening bread")
    assert deal.ends_at.astimezone(BERLIN_TIME).strftime("%Y-%m-%d %H:%M") == f"{tomorrow} 20:00"
    expect(page.locator("[name=ends_at_1]")).to_have_value("20:00:00")
    # positive control: a browser in another zone is told the difference
    elsewhere = new_page(viewport=viewport, timezone_id="America/New_York")
    log_in(elsewhere, stack.base_url, staff.username, next_path=f"/admin/discounts/discount/{deal.pk}/change/")
    expect(elsewhere.locator(".timezonewarning").first).to_be_visible()


@both_viewports
def test_the_dashboard_ranks_the_market_among_the_markets_that_sell_it(stack, new_page, viewport):
    mine, second, third = (MarketFactory(name=name) for name in ("Mine", "Second", "Third"))
    create_deal(market=mine, product="Oat milk", price=Decimal("1.50"), original_price=Decimal("2.00"))
    for price in ("1.10", "1.20", "1.30"):
        create_deal(market=second, product="Oat milk", price=Decimal(price), original_price=Decimal("2.00"))
    create_deal(market=third, product="Oat milk", price=Decimal("1.90"), original_price=Decimal("5.00"))
    page = new_page(viewport=viewport)
    log_in(page, stack.base_url, staff_of(mine).username, next_path="/staff/")
    comparison = page.locator("#comparisons .comparison", has_text="Oat milk")
    # three markets sell it (not five deals), and the rule is stated
    expect(comparison).to_contain_text("Your price ranks #2 of 3 markets, by each market's cheapest offer")
    expect(comparison.locator("li")).to_have_count(3)
    expect(comparison.locator("li").first).to_contain_text("Second")
    screenshot(page, "staff", viewport, full_page=True)
    assert fits_width(page, viewport)
    if is_phone(viewport):
        expect(page.locator("#published-chart")).to_be_visible()
