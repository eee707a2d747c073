"""What the benchmark measures besides the sockets: server CPU, staff writes, commits, the relay, loss."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)


class Sampler:
    """CPU of the server processes (web, worker) and RSS of the web processes."""

    def __init__(self, web_pids: list[int], worker_pids: list[int]) -> None:
        import psutil

        self.web = [psutil.Process(p) for p in web_pids]
        self.procs = self.web + [c for p in worker_pids for c in [psutil.Process(p), *psutil.Process(p).children(recursive=True)]]
        for proc in self.procs:
            proc.cpu_percent(None)

    def web_rss(self) -> int:
        return sum(p.memory_info().rss for p in self.web)

    def web_cpu_seconds(self) -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.web))

    def cpu_percent(self) -> float:
        return round(sum(p.cpu_percent(None) for p in self.procs), 1)


def cpu_by_program() -> dict[int, tuple[str, float]]:
    """Each process on the box by pid: its program (daphne, postgres, ...) and the CPU seconds it used so far."""
    import psutil

    used: dict[int, tuple[str, float]] = {}
    for proc in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times, cmd = proc.info["cpu_times"], proc.info["cmdline"] or []
        if times is None:
            continue
        joined = " ".join(cmd)
        # A kernel worker's name says what it is doing at the moment ("kworker/u8:1-writeback"): by the
        # prefix, so one thread is one program however its name changes between the two looks.
        name = next((k for k in ("daphne", "uvicorn", "bench.loadgen", "bench.run", "celery", "postgres", "valkey")
                     if k in joined),
                    (proc.info["name"] or "?").split("/")[0])
        used[proc.pid] = (name, times.user + times.system)
    return used


def cpu_split(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float) -> dict[str, float]:
    """Each program's share of one core over an interval, in percent, busiest first.

    Summed per process, not per program: a process that exits in the interval takes its CPU with it,
    and summed by program first that showed as the survivors' CPU going down (the notifier's worker,
    stopped just before the commits were measured, hid the relay worker's work behind it).
    """
    shares: dict[str, float] = {}
    for pid, (name, seconds_used) in after.items():
        shares[name] = shares.get(name, 0.0) + seconds_used - before.get(pid, (name, 0.0))[1]
    rounded = {name: round(100 * used / seconds, 1) for name, used in shares.items()}
    return dict(sorted(((k, v) for k, v in rounded.items() if v >= 1), key=lambda kv: -kv[1]))


def metrics_text(port: int) -> str:
    """A web process's ``/metrics`` page."""
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()


def gc_pauses(port: int) -> dict[str, dict[str, float]]:
    """The web process's garbage collections so far, by generation: how many, their mean pause, and how
    many paused it longer than 100 ms (``dealcast_gc_pause_seconds``)."""
    body = metrics_text(port)
    found: dict[str, dict[str, float]] = {}
    for line in body.splitlines():
        if not line.startswith("dealcast_gc_pause_seconds"):
            continue
        name, _, value = line.rpartition(" ")
        generation = name.split('generation="')[1].split('"')[0]
        row = found.setdefault(generation, {})
        if name.startswith("dealcast_gc_pause_seconds_count"):
            row["count"] = float(value)
        elif name.startswith("dealcast_gc_pause_seconds_sum"):
            row["sum"] = float(value)
        elif 'le="0.1"' in name:
            row["within_100ms"] = float(value)
    return {generation: {"collections": int(row["count"]),
                         "mean_ms": round(1000 * row["sum"] / row["count"], 1) if row["count"] else None,
                         "over_100ms": int(row["count"] - row["within_100ms"]),
                         "total_ms": round(1000 * row["sum"], 1)}
            for generation, row in sorted(found.items()) if "count" in row}


def gc_between(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, str]:
    """The collections that paused the web process between two ``gc_pauses`` readings, by generation:
    "count × mean ms" (a phase's latency tail is often one of them)."""
    spans = {}
    for generation, row in after.items():
        start = before.get(generation, {"collections": 0, "total_ms": 0.0})
        count = row["collections"] - start["collections"]
        if count:
            spans[generation] = f"{count} × {(row['total_ms'] - start['total_ms']) / count:.0f} ms"
    return spans


def scrape_by_label(port: int, name: str) -> dict[str, float]:
    """A metric with one label, by the label's value (``dealcast_resume_refusals_total``: by reason)."""
    found = {}
    for line in metrics_text(port).splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line.rpartition(" ")
            found[labels.split('="', 1)[1].split('"', 1)[0]] = float(value)
    return found


def scrape(port: int, name: str) -> float:
    body = metrics_text(port)
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name + " "))


class StaffWriter(threading.Thread):
    """A market's staff publishing through the integration API over HTTP while the sockets are busy.

    Counts every request that failed or took over a second: staff must not wait on the shoppers.
    """

    def __init__(self, base_url: str, token: str, market_id: int, category: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token, self.market_id, self.category, self.rate = base_url, token, market_id, category, rate
        self.stop = threading.Event()
        self.latencies_ms: list[float] = []
        self.slow_at: list[float] = []
        self.failed = 0

    def run(self) -> None:
        rng = random.Random(17)
        while not self.stop.wait(1 / self.rate):
            price = round(rng.uniform(1, 5), 2)
            body = json.dumps({"market": self.market_id, "product": "Staff special", "category": self.category,
                               "original_price": f"{price + 1:.2f}", "price": f"{price:.2f}",
                               "ends_at": "2099-01-01T00:00:00Z"}).encode()
            request = urllib.request.Request(f"{self.base_url}/api/discounts/", data=body, method="POST", headers={
                "Authorization": f"Token {self.token}", "Content-Type": "application/json"})
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    ok = response.status == 201
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                ok = False
            took_ms = (time.monotonic() - started) * 1000
            self.latencies_ms.append(took_ms)
            if took_ms > 1000 or not ok:
                self.slow_at.append(time.time() - took_ms / 1000)
            self.failed += 0 if ok else 1

    def summary(self, phases: dict[str, tuple[float, float]]) -> dict:
        """``phases``: name -> (start, end) wall-clock; slow or failed requests are counted by the phase
        they were sent in, so a figure over its goal says what the box was doing then."""
        by_phase: dict[str, int] = {}
        for at in self.slow_at:
            name = next((name for name, (start, end) in phases.items() if start <= at <= end), "between phases")
            by_phase[name] = by_phase.get(name, 0) + 1
        return {"requests": len(self.latencies_ms), "failed": self.failed,
                "over_1s": sum(1 for ms in self.latencies_ms if ms > 1000), "slow_or_failed_by_phase": by_phase,
                "latency_ms": {"p50": percentile(self.latencies_ms, 50), "p99": percentile(self.latencies_ms, 99)}}


def staff_token() -> tuple[str, int, str]:
    """An API token of a demo market's staff user, that market and a category slug."""
    from rest_framework.authtoken.models import Token

    from discounts.models import Category
    from markets.models import Market

    market = Market.objects.order_by("pk").first()
    staff = market.staff.order_by("pk").first()
    token, _ = Token.objects.get_or_create(user=staff)
    return token.key, market.pk, Category.objects.order_by("pk").first().slug


def storm_loss(
    shoppers: list[dict], received: dict[str, list[str]], snapshots: dict[str, list[str]], since: float, until: float,
    not_back: set[str],
) -> dict:
    """Events each shopper should have had from the storm's start, against all it received.

    A shopper whose socket never came back (``not_back``: the load generator gave up retrying) is
    owed its events, not robbed of them: they are counted apart, as ``owed_to_shoppers_not_back``.

    Expected: every event sequenced in the window whose footprints are in the shopper's area (the
    server's own rule, ``Subscription.match``). An event a shopper did not get as a frame but that a
    later snapshot of its area already reflects (a snapshot's cursor at or past the event's position)
    is counted as resynced, not lost: the shopper's page shows it.
    """
    from datetime import datetime, timezone

    from eventlog.models import OutboxEvent
    from realtime.cursor import Cursor
    from realtime.subscriptions import Subscription

    window = OutboxEvent.objects.filter(
        created_at__gte=datetime.fromtimestamp(since, timezone.utc),
        created_at__lte=datetime.fromtimestamp(until, timezone.utc), position__isnull=False,
    ).values_list("event_id", "footprints", "position")
    events = [(str(event_id), footprints, position) for event_id, footprints, position in window]
    expected = lost = resynced = owed = 0
    # Who lost: a shopper that got nothing after its first loss had a socket that went away; one that
    # got later events has a hole in the middle.
    losing, holes = 0, 0
    for shopper in shoppers:
        sub = Subscription.build(lat=shopper["lat"], lng=shopper["lng"], radius_km=shopper["radius_km"])
        if shopper["session"] in not_back:
            owed += sum(1 for _, footprints, _ in events if sub.match(footprints) is not None)
            continue
        got = set(received.get(shopper["session"], ()))
        covered = max((Cursor.decode(c).base for c in snapshots.get(shopper["session"], ())), default=0)
        first_lost, last_got = None, 0
        for event_id, footprints, position in events:
            if sub.match(footprints) is not None:
                expected += 1
                if event_id in got:
                    last_got = max(last_got, position)
                elif position <= covered:
                    resynced += 1
                else:
                    lost += 1
                    first_lost = position if first_lost is None else min(first_lost, position)
        if first_lost is not None:
            losing += 1
            holes += last_got > first_lost
    return {"events": len(events), "expected_deliveries": expected, "lost": lost, "resynced": resynced,
            "shoppers_losing": losing, "shoppers_with_a_hole": holes, "owed_to_shoppers_not_back": owed}


def measure_commits(seconds: float) -> tuple[float, list[float]]:
    """Deal commits per second through the service, post-save signal and outbox, one writer."""
    from django.utils import timezone

    from demo.seeding import random_deal_fields
    from discounts.models import Category
    from discounts.services import discount_create
    from harness.verify import wait_drained
    from markets.models import Market

    rng = random.Random(11)
    categories, markets = list(Category.objects.all()), list(Market.objects.all())
    since = timezone.now()
    count, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        discount_create(market=rng.choice(markets), **random_deal_fields(rng, categories))
        count += 1
    rate = count / (time.monotonic() - started)
    wait_drained()
    return rate, relay_lags_ms(since)


def relay_lags_ms(since) -> list[float]:
    from eventlog.models import OutboxEvent

    rows = OutboxEvent.objects.filter(created_at__gte=since, published_at__isnull=False)
    return [(p - c).total_seconds() * 1000 for c, p in rows.values_list("created_at", "published_at")]


def measure_relay(stack, events: int) -> float:
    """Events per second through sequence + pub/sub push, with the workers stopped so nothing competes."""
    from django.utils import timezone

    from demo.seeding import random_deal_fields
    from discounts.models import Category, Discount
    from markets.models import Market
    from realtime import relay

    for worker in list(stack.workers):
        stack.kill(worker)
        stack.workers.remove(worker)
    if stack.beat:
        stack.kill(stack.beat)
        stack.beat = None
    rng = random.Random(5)
    categories, markets = list(Category.objects.all()), list(Market.objects.all())
    Discount.objects.bulk_create([
        Discount(market=rng.choice(markets), starts_at=timezone.now(), **random_deal_fields(rng, categories))
        for _ in range(events)
    ])
    started = time.monotonic()
    with relay.relay_turn():
        result = relay.relay_pending(max_batches=10**6)
    return result.published / (time.monotonic() - started)
