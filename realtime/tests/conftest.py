"""Fixtures of the realtime app's tests."""

from collections import OrderedDict

import pytest

from realtime import consumers, hub as hub_module
from realtime.hub import LiveHub
from realtime.logins import recent_logins


@pytest.fixture
def live(monkeypatch):
    """A hub of this test's own: the process's one belongs to the loop that first used it."""
    fresh = LiveHub()
    monkeypatch.setattr(hub_module, "hub", fresh)
    monkeypatch.setattr(consumers, "hub", fresh)
    # Nor has it heard any login end: what an earlier hub heard would otherwise let logins in.
    monkeypatch.setattr(recent_logins, "entries", OrderedDict())
    monkeypatch.setattr(recent_logins, "hearing", False)
    return fresh
