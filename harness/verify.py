"""Compare what live shoppers received and show with the event log and a fresh fetch."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.client import LiveClient


@dataclass
class Tally:
    fault: str
    sent: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    view_mismatches: int = 0
    resynced: int = 0
    staff_writes: int = 0
    staff_failed: int = 0
    # How fast the others were served meanwhile (figures, not pass/fail): live events, GET /api/deals/.
    live_p50_ms: float | None = None
    get_p50_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.out_of_order == 0 and self.view_mismatches == 0 and self.staff_failed == 0


def tally_clients(name: str, clients: list[LiveClient], *, after: int) -> Tally:
    """Every log event after position ``after`` against every client; resets the clients' counters.

    Precondition: the pipeline has drained (nothing pending or sequenced, reconciliation has run).
    """
    from discounts.selectors import deals_search
    from eventlog.selectors import log_bounds, log_events
    from realtime.subscriptions import Subscription

    events = log_events(after=after, through=log_bounds()[0], limit=10**9)
    tally = Tally(fault=name, sent=len(events))
    for client in clients:
        area = client.area
        sub = Subscription.build(lat=area.lat, lng=area.lng, radius_km=area.radius_km, categories=area.categories)
        got = {r.event_id for r in client.received}
        expected = {e.envelope["id"]: e.position for e in events if sub.match(e.footprints) is not None}
        missing = [position for event_id, position in expected.items() if event_id not in got]
        # A resume too far back gets a snapshot instead of the events (the replay bound): those events
        # were not lost, the snapshot shows their outcome (checked below against a fresh fetch).
        resynced = sum(1 for p in missing if any(low < p <= high for low, high in client.covered))
        tally.expected += len(expected)
        tally.delivered += len(expected) - len(missing)
        tally.resynced += resynced
        tally.lost += len(missing) - resynced
        fresh = deals_search(
            lat=sub.lat, lng=sub.lng, radius_km=sub.radius_km, category_ids=sub.categories
        )
        shown = {deal_id: deal["price"] for deal_id, deal in client.view.items()}
        tally.view_mismatches += len({(d.pk, str(d.price)) for d in fresh} ^ set(shown.items()))
        tally.duplicated += client.duplicates()
        tally.out_of_order += client.out_of_order
        client.frames_per_event.clear()
        client.out_of_order = 0
        client.covered.clear()
    return tally


def wait_drained(*, timeout: float = 60.0, settle_s: float = 0.0) -> None:
    """Wait until no outbox row is waiting to be relayed, then ``settle_s`` for repairs to run.

    Rows backing off after a failure (a poison row) do not count. Database errors while PostgreSQL
    restarts are waited out.
    """
    from django.db import connection

    from eventlog.models import OutboxEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waiting = OutboxEvent.objects.filter(state__in=["pending", "sequenced"]).exclude(attempts__gt=0)
            if not waiting.exists():
                break
        except Exception:  # noqa: BLE001 - the database may be restarting
            connection.close()
        time.sleep(0.1)
    time.sleep(settle_s)
