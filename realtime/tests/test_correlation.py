import logging

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from eventlog.models import OutboxEvent
from realtime import relay
from tests.factories import CategoryFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_requests_correlation_id_reaches_its_event_and_the_relay_log(caplog):
    market = MarketFactory()
    CategoryFactory(slug="produce")
    staff = UserFactory(is_staff=True)
    market.staff.add(staff)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    response = api.post(
        "/api/discounts/",
        {"market": market.pk, "product": "Kiwi", "category": "produce", "original_price": "2.00", "price": "1.00",
         "ends_at": "2099-01-01T00:00:00Z"},
        format="json", HTTP_X_REQUEST_ID="req-42",
    )
    assert response["X-Request-ID"] == "req-42"
    assert OutboxEvent.objects.get().envelope["correlation_id"] == "req-42"
    with caplog.at_level(logging.DEBUG, logger="realtime.relay"):
        relay.relay_pending()
    assert any(getattr(r, "correlation_id", None) == "req-42" for r in caplog.records)


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 36
