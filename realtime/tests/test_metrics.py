import pytest
from django.test import Client

from eventlog.models import OutboxEvent
from tests.factories import UserFactory, create_deal

pytestmark = pytest.mark.django_db


def test_metrics_report_backlog_dead_letters_and_lag_to_local_callers(client):
    create_deal()
    create_deal()
    OutboxEvent.objects.filter(pk=OutboxEvent.objects.first().pk).update(state=OutboxEvent.State.DEAD)
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "dealcast_outbox_backlog 1.0" in body
    assert "dealcast_outbox_dead_letters 1.0" in body
    assert "dealcast_relay_lag_seconds" in body
    assert "dealcast_socket_connections" in body and "dealcast_socket_deliveries_total" in body


def test_metrics_are_hidden_from_remote_callers_without_a_token(settings):
    settings.METRICS_TOKEN = "s3cret"
    remote = Client(REMOTE_ADDR="203.0.113.9")
    assert remote.get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    admin = Client(REMOTE_ADDR="203.0.113.9")
    admin.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert admin.get("/metrics").status_code == 200
