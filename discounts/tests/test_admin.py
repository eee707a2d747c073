import pytest
from django.urls import reverse
from django.utils import timezone

from discounts.models import Discount
from discounts.permissions import market_staff_group
from tests.factories import CategoryFactory, MarketFactory, UserFactory, create_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(client):
    market_a, market_b = MarketFactory(name="Alpha"), MarketFactory(name="Beta")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market_a.staff.add(staff)
    client.force_login(staff)
    return {
        "client": client, "staff": staff, "market_a": market_a, "market_b": market_b,
        "deal_a": create_deal(market=market_a, product="Alpha apples"),
        "deal_b": create_deal(market=market_b, product="Beta bananas"),
    }


def test_staff_sees_only_their_markets_deals(scene):
    page = scene["client"].get(reverse("admin:discounts_discount_changelist"))
    assert page.status_code == 200
    assert b"Alpha apples" in page.content
    assert b"Beta bananas" not in page.content


def complete_change_form(deal: Discount, **changes) -> dict:
    """Every field of the admin change form, as the browser posts it, with ``changes`` applied."""
    starts_at, ends_at = timezone.localtime(deal.starts_at), timezone.localtime(deal.ends_at)
    data = {
        "market": deal.market_id, "product": deal.product, "category": deal.category_id,
        "original_price": str(deal.original_price), "price": str(deal.price), "currency": deal.currency,
        "starts_at_0": starts_at.strftime("%Y-%m-%d"), "starts_at_1": starts_at.strftime("%H:%M:%S"),
        "ends_at_0": ends_at.strftime("%Y-%m-%d"), "ends_at_1": ends_at.strftime("%H:%M:%S"),
        "state": deal.state,
    }
    return {**data, **changes}


def test_staff_cannot_open_or_change_another_markets_deal_by_url(scene):
    client, deal_a, deal_b = scene["client"], scene["deal_a"], scene["deal_b"]
    # positive control: the complete form changes their own market's deal
    own = client.post(reverse("admin:discounts_discount_change", args=[deal_a.pk]),
                      complete_change_form(deal_a, product="Renamed apples"))
    assert own.status_code == 302
    deal_a.refresh_from_db()
    assert deal_a.product == "Renamed apples"
    # the other market's deal can be neither opened, nor changed with the same complete form, nor deleted
    change = client.get(reverse("admin:discounts_discount_change", args=[deal_b.pk]))
    assert change.status_code in (302, 404)
    client.post(reverse("admin:discounts_discount_change", args=[deal_b.pk]),
                complete_change_form(deal_b, product="Hijacked", market=scene["market_a"].pk))
    client.post(reverse("admin:discounts_discount_delete", args=[deal_b.pk]), {"post": "yes"})
    deal_b.refresh_from_db()
    assert deal_b.product == "Beta bananas"
    assert deal_b.market_id == scene["market_b"].pk
    assert deal_b.listed


def test_bulk_actions_ignore_another_markets_ids(scene):
    client, deal_a, deal_b = scene["client"], scene["deal_a"], scene["deal_b"]
    url = reverse("admin:discounts_discount_changelist")
    client.post(url, {"action": "withdraw_selected", "_selected_action": [deal_a.pk, deal_b.pk]})
    client.post(url, {"action": "delete_selected", "_selected_action": [deal_b.pk], "post": "yes"})
    assert Discount.objects.get(pk=deal_a.pk).state == Discount.State.WITHDRAWN
    assert Discount.objects.get(pk=deal_b.pk).state == Discount.State.ACTIVE


def test_add_form_offers_only_their_markets_and_publishes_through_the_service(scene):
    client = scene["client"]
    url = reverse("admin:discounts_discount_add")
    form = client.get(url)
    assert b"Alpha" in form.content and b">Beta<" not in form.content
    category = CategoryFactory(slug="dairy")
    data = {
        "market": scene["market_a"].pk, "product": "Milk", "category": category.pk, "original_price": "2.00",
        "price": "1.50", "currency": "EUR", "starts_at_0": "2026-01-01", "starts_at_1": "00:00:00",
        "ends_at_0": "2099-01-01", "ends_at_1": "00:00:00", "state": "active",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    assert Discount.objects.get(product="Milk").listed
    # a foreign market in the add form is a form error, nothing saved
    response = client.post(url, {**data, "market": scene["market_b"].pk, "product": "Sneaky"})
    assert response.status_code == 200
    assert not Discount.objects.filter(product="Sneaky").exists()


def test_price_above_original_is_a_form_error_in_admin(scene):
    client = scene["client"]
    deal_a = scene["deal_a"]
    response = client.post(
        reverse("admin:discounts_discount_change", args=[deal_a.pk]),
        {
            "market": scene["market_a"].pk, "product": "Alpha apples", "category": deal_a.category_id,
            "original_price": "2.00", "price": "9.00", "currency": "EUR",
            "starts_at_0": "2026-01-01", "starts_at_1": "00:00:00", "ends_at_0": "2099-01-01", "ends_at_1": "00:00:00",
            "state": "active",
        },
    )
    assert response.status_code == 200
    assert b"below the original price" in response.content
    deal_a.refresh_from_db()
    assert deal_a.price != 9


def test_superuser_sees_everything(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    create_deal(product="Anything")
    client.force_login(admin)
    assert b"Anything" in client.get(reverse("admin:discounts_discount_changelist")).content


def test_admin_shows_and_takes_times_in_the_citys_time_zone(scene, settings):
    from zoneinfo import ZoneInfo

    client, deal_a = scene["client"], scene["deal_a"]
    assert settings.TIME_ZONE == "Europe/Berlin"
    # when staff type an end of 20:00 on a summer day
    form = complete_change_form(deal_a)
    form.update(ends_at_0="2099-07-01", ends_at_1="20:00:00")
    assert client.post(reverse("admin:discounts_discount_change", args=[deal_a.pk]), form).status_code == 302
    deal_a.refresh_from_db()
    # then the deal ends at 20:00 in Berlin (18:00 UTC), and the form shows 20:00 again, with no offset note
    assert deal_a.ends_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "20:00"
    assert deal_a.ends_at.astimezone(ZoneInfo("UTC")).strftime("%H:%M") == "18:00"
    page = client.get(reverse("admin:discounts_discount_change", args=[deal_a.pk])).content.decode()
    assert 'value="20:00:00"' in page
    # and the deal is named by its market, not the market's id
    assert str(deal_a) == f"Alpha apples at {scene['market_a'].name}"


def test_the_add_form_starts_at_their_market_now_until_closing_and_the_list_speaks_plainly(scene):
    client = scene["client"]
    form = client.get(reverse("admin:discounts_discount_add")).context["adminform"].form
    # their only market is chosen, the deal starts now and ends at the next closing time, in EUR
    assert form.initial["market"] == scene["market_a"].pk
    now = timezone.localtime()
    assert abs((form.initial["starts_at"] - now).total_seconds()) < 120
    assert form.initial["ends_at"].hour == 20 and form.initial["ends_at"] > now
    assert "EUR" in [value for value, _ in form.fields["currency"].choices]
    # the list shows % off and whether shoppers see the deal, not the internal "listed" flag
    listing = client.get(reverse("admin:discounts_discount_changelist")).content.decode()
    assert "% off" in listing and "Shoppers see it" in listing and ">Live<" in listing
    assert "Dealcast for markets" in listing
