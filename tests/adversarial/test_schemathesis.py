"""Every API operation, generated from the OpenAPI schema, with and without auth: never a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection():
    """The WSGI handler closes the connection after each request, as Django's test client prevents."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def _staff_token() -> str:
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from tests.factories import MarketFactory, UserFactory, create_deal

    existing = Token.objects.filter(user__username="schemathesis-staff").first()
    if existing is not None:
        return existing.key
    staff = User.objects.filter(username="schemathesis-staff").first() or UserFactory(
        username="schemathesis-staff", is_staff=True
    )
    market = MarketFactory()
    market.staff.add(staff)
    create_deal(market=market)
    return Token.objects.get_or_create(user=staff)[0].key


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_anonymous_callers_never_cause_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_staff_callers_never_cause_a_server_error(case):
    case.call_and_validate(headers={"Authorization": f"Token {_staff_token()}"}, checks=[not_a_server_error])
