import pytest
from django.db import transaction

from eventlog.models import OutboxEvent
from eventlog.recording import record_event
from eventlog.signals import events_committed
from eventlog.vocabulary import PUBLISHED

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {"deal_id": 1, "market_id": 2, "data": {"id": 1}, "cells": ["b", "a", "b"],
          "footprints": [[52.5, 13.4, 3]]}


@pytest.fixture
def announced():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(sender)

    events_committed.connect(receiver, dispatch_uid="test_announced")
    yield calls
    events_committed.disconnect(dispatch_uid="test_announced")


def test_an_event_is_announced_once_its_transaction_commits(announced):
    with transaction.atomic():
        event_id = record_event(event_type=PUBLISHED, **FIELDS)
        assert announced == []  # not before the change it describes is visible

    assert announced == [OutboxEvent]
    stored = OutboxEvent.objects.get()
    assert stored.cells == ["a", "b"] and stored.state == OutboxEvent.State.PENDING and stored.position is None
    assert stored.event_id == event_id and stored.envelope["id"] == str(event_id) and stored.envelope["type"] == PUBLISHED
    assert stored.footprints == FIELDS["footprints"] and stored.envelope["data"] == FIELDS["data"]
    assert (stored.deal_id, stored.market_id, stored.type, stored.attempts) == (1, 2, PUBLISHED, 0)
    assert stored.created_at == stored.scheduled_for and stored.last_error == "" and stored.sequenced_at is None


def test_a_rolled_back_change_leaves_no_event_and_announces_nothing(announced):
    with pytest.raises(RuntimeError, match="boom"), transaction.atomic():
        record_event(event_type=PUBLISHED, **FIELDS)
        raise RuntimeError("boom")

    assert announced == [] and not OutboxEvent.objects.exists()


def test_an_event_outside_a_transaction_or_of_an_unknown_type_is_refused(announced):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_event(event_type=PUBLISHED, **FIELDS)
    with pytest.raises(ValueError, match="unknown event type"), transaction.atomic():
        record_event(event_type="discount.teleported", **FIELDS)

    assert not OutboxEvent.objects.exists() and announced == []
