"""What the event log announces to the apps above it (they connect receivers; the log knows none)."""

from django.dispatch import Signal

# Sent after a transaction that recorded events committed (once per recorded event; no arguments).
events_committed = Signal()
