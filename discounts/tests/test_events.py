import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from discounts import services
from eventlog.models import OutboxEvent
from tests.factories import create_deal

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())
validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())

pytestmark = pytest.mark.django_db


def test_every_event_type_matches_the_documented_schema():
    deal = create_deal()
    services.discount_update(discount=deal, price=Decimal("1.25"))
    services.discount_withdraw(discount=deal)
    expiring = create_deal()
    services.discount_update(
        discount=expiring,
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() + timedelta(milliseconds=300),
    )
    time.sleep(0.35)
    services.discounts_apply_schedule()
    envelopes = [row.envelope for row in OutboxEvent.objects.order_by("id")]
    assert {e["type"] for e in envelopes} == {"discount.published", "discount.updated", "discount.withdrawn", "discount.expired"}
    for envelope in envelopes:
        errors = sorted(validator.iter_errors(envelope), key=str)
        assert not errors, [e.message for e in errors]


def test_schema_rejects_an_envelope_missing_its_id():
    create_deal()
    envelope = OutboxEvent.objects.get().envelope
    del envelope["id"]
    assert not validator.is_valid(envelope)
