"""Who may do what: every role against every endpoint that reads or changes a market's deals."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from discounts.models import Discount
from discounts.permissions import market_staff_group
from tests.factories import BERLIN, CategoryFactory, MarketFactory, ShopperFactory, UserFactory, create_deal

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "shopper", "staff_a", "staff_b", "superuser"]
AREA = f"lat={BERLIN[0]}&lng={BERLIN[1]}&radius_km=5"


@pytest.fixture
def world():
    market_a, market_b = MarketFactory(name="A"), MarketFactory(name="B")
    CategoryFactory(slug="produce")
    users = {"anonymous": None, "shopper": ShopperFactory(), "superuser": UserFactory(is_staff=True, is_superuser=True)}
    for name, market in [("staff_a", market_a), ("staff_b", market_b)]:
        users[name] = UserFactory(is_staff=True)
        users[name].groups.add(market_staff_group())
        market.staff.add(users[name])
    return {"users": users, "market_a": market_a, "deal_a": create_deal(market=market_a)}


def api_for(user) -> APIClient:
    api = APIClient()
    if user is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def web_for(user) -> Client:
    web = Client()
    if user is not None:
        web.force_login(user)
    return web


# role -> expected status, per operation on market A's deal
MATRIX = {
    "create": {"anonymous": 401, "shopper": 400, "staff_a": 201, "staff_b": 400, "superuser": 201},
    "patch": {"anonymous": 401, "shopper": 404, "staff_a": 200, "staff_b": 404, "superuser": 200},
    "delete": {"anonymous": 401, "shopper": 404, "staff_a": 204, "staff_b": 404, "superuser": 204},
    "changes": {"anonymous": 401, "shopper": 200, "staff_a": 200, "staff_b": 200, "superuser": 200},
    "deals": {"anonymous": 200, "shopper": 200, "staff_a": 200, "staff_b": 200, "superuser": 200},
    "admin_change": {"anonymous": 302, "shopper": 302, "staff_a": 200, "staff_b": 302, "superuser": 200},
    # A visitor at / gets the city's deals (not the live page, whose socket needs a login).
    "live_page": {"anonymous": 200, "shopper": 200, "staff_a": 200, "staff_b": 200, "superuser": 200},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", list(MATRIX))
def test_authorization_matrix(world, role, operation):
    user, deal = world["users"][role], world["deal_a"]
    api = api_for(user)
    if operation == "create":
        body = {"market": world["market_a"].pk, "product": "Pears", "category": "produce",
                "original_price": "2.00", "price": "1.00", "ends_at": "2099-01-01T00:00:00Z"}
        status = api.post("/api/discounts/", body, format="json").status_code
    elif operation == "patch":
        status = api.patch(f"/api/discounts/{deal.pk}/", {"price": "0.10"}, format="json").status_code
    elif operation == "delete":
        status = api.delete(f"/api/discounts/{deal.pk}/").status_code
    elif operation == "changes":
        status = api.get(f"/api/deals/changes/?{AREA}").status_code
    elif operation == "deals":
        status = api.get(f"/api/deals/?{AREA}").status_code
    elif operation == "admin_change":
        status = web_for(user).get(f"/admin/discounts/discount/{deal.pk}/change/").status_code
    else:
        status = web_for(user).get("/").status_code
    assert status == MATRIX[operation][role]
    deal.refresh_from_db()
    changed = deal.price != Discount._meta.get_field("price").to_python("1.99") or not deal.listed
    assert changed == (operation in ("patch", "delete") and MATRIX[operation][role] in (200, 204))
