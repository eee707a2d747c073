"""The correlation and causation ids carried by every event a unit of work records."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def current_correlation_id() -> str:
    return _correlation_id.get() or str(uuid.uuid4())


def current_correlation_id_or_none() -> str | None:
    return _correlation_id.get()


def current_causation_id() -> str | None:
    return _causation_id.get()


@contextmanager
def event_context(*, correlation_id: str | None = None, causation_id: str | None = None):
    """Tag the events recorded inside the block; ids default to a fresh correlation id."""
    tokens = (
        _correlation_id.set(correlation_id or str(uuid.uuid4())),
        _causation_id.set(causation_id),
    )
    try:
        yield
    finally:
        _correlation_id.reset(tokens[0])
        _causation_id.reset(tokens[1])
