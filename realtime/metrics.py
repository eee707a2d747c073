"""Prometheus metrics: this process's sockets and deliveries, plus the outbox read at scrape time.

Socket figures are per web process: scrape each process (not the balancer). Outbox figures come from
the database and are the same whichever process answers.
"""

from __future__ import annotations

from django.db.models import Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily

registry = CollectorRegistry()
connections = Gauge("dealcast_socket_connections", "Open live sockets in this process", registry=registry)
deliveries = Counter("dealcast_socket_deliveries", "Event frames sent to sockets by this process", registry=registry)
snapshots = Counter(
    "dealcast_socket_snapshots", "Snapshot frames sent to sockets by this process (a connect or a subscribe each)",
    registry=registry,
)
resume_refusals = Counter(
    "dealcast_resume_refusals",
    "Resumes (socket or changes feed) answered with a fresh snapshot instead of a replay, by why: "
    "epoch (another log), ahead (the cursor is past the head), pruned (before the retained log), "
    "gap (too many log rows to read), frames (too many to send), repair_gap (the process's own "
    "repair fell that far behind, so every socket of the process got one)",
    ["reason"], registry=registry,
)
dispatched = Counter(
    "dealcast_socket_dispatches",
    "Sockets an event was offered to by its groups; above deliveries by the sockets the exact check dropped",
    registry=registry,
)
followed_log = Info(
    "dealcast_event_log", "The epoch of the event log this process delivers from (changes after a restore)",
    registry=registry,
)
repaired = Counter(
    "dealcast_repaired_events", "Events delivered from the log because pub/sub lost them", registry=registry
)
gc_pauses = Histogram(
    "dealcast_gc_pause_seconds",
    "The process's garbage collections by generation: a full one walks every open socket's objects",
    ["generation"], buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=registry,
)
relay_wake_ups = Counter(
    "dealcast_relay_wake_ups",
    "Commits' wake-ups of the relay by this process: sent (a Celery message), or coalesced (one was "
    "already waiting in the queue, and the turn it starts takes this commit's rows too)",
    ["outcome"], registry=registry,
)
slow_closes = Counter(
    "dealcast_slow_client_closes", "Sockets closed with 4008 for too many unsent bytes", registry=registry
)


class OutboxCollector:
    """Backlog, dead letters and relay lag, read from the outbox when scraped."""

    def collect(self):
        from eventlog.models import OutboxEvent

        now = timezone.now()
        rows = OutboxEvent.objects
        backlog = rows.filter(state__in=[OutboxEvent.State.PENDING, OutboxEvent.State.SEQUENCED])
        oldest = backlog.aggregate(oldest=Min("created_at"))["oldest"]
        recent = rows.filter(state=OutboxEvent.State.PUBLISHED, published_at__gte=now - timezone.timedelta(minutes=1))
        lags = [(p - c).total_seconds() for c, p in recent.values_list("created_at", "published_at")[:5000]]
        yield GaugeMetricFamily("dealcast_outbox_backlog", "Outbox rows not yet pushed", value=backlog.count())
        yield GaugeMetricFamily(
            "dealcast_outbox_dead_letters", "Outbox rows that keep failing",
            value=rows.filter(state=OutboxEvent.State.DEAD).count(),
        )
        yield GaugeMetricFamily(
            "dealcast_relay_lag_seconds", "Age of the oldest row still to relay",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "dealcast_relay_recent_lag_seconds", "Mean commit-to-push time over the last minute",
            value=sum(lags) / len(lags) if lags else 0.0,
        )


registry.register(OutboxCollector())


def render() -> bytes:
    return generate_latest(registry)
