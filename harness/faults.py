"""``make faults``: break the real parts on purpose and count what shoppers lost.

Starts its own PostgreSQL and Valkey (so it may kill them), daphne, a Celery worker and beat, a TCP
proxy in front of Redis, and dozens of live shoppers. For each fault kind it drives deal changes
through the staff services, injects the fault, heals, waits for the pipeline to drain, then compares
what every shopper received and shows with the event log and a fresh fetch. Exits 1 when anything
was lost, shown out of order, or a shopper's view differs from a fresh fetch.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import percentile  # noqa: E402
from harness.abuse import AbuseReport, GreedyAccount  # noqa: E402
from harness.client import Area, LiveClient  # noqa: E402
from harness.cluster import LocalCluster  # noqa: E402
from harness.notify_check import NotifiedShoppers, NotifyTally, ProcessTreeSampler, wait_notifier_settled  # noqa: E402
from harness.stack import Stack, wait_for  # noqa: E402
from harness.verify import Tally, tally_clients, wait_drained  # noqa: E402

# The faults that leave PostgreSQL and the web processes up: staff must be able to work through them.
STAFF_WRITE_FAULTS = {"redis_restart", "redis_outage", "redis_network_cut", "worker_sigkill"}


class FaultRun:
    def __init__(self, *, clients: int, phase_s: float, offline_s: float, rate: float, seed: int, crowd: int) -> None:
        self.phase_s, self.offline_s, self.rate = phase_s, offline_s, rate
        self.rng = random.Random(seed)
        self.client_count = clients
        self.notified = NotifiedShoppers()
        self.cluster = LocalCluster(name="faults", with_proxy=True, extra_env=self.notified.env())
        self.postgres, self.valkey = self.cluster.postgres, self.cluster.valkey
        self.workdir = self.cluster.workdir
        self.stack: Stack | None = None
        self.clients: list[LiveClient] = []
        self.driving = threading.Event()
        self.after_phase: list[Callable[[], None]] = []
        self.before_phase: dict[str, Callable[[], None]] = {}
        self.far_back_cursor = ""
        self.abuse: AbuseReport | None = None
        self.crowd = crowd
        self.notifier_memory_mb: tuple[float | None, float | None] = (None, None)

    # setup -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.cluster.start_servers()
        self.proxy, self.stack = self.cluster.proxy, self.cluster.stack
        from demo.seeding import seed_demo_city

        seed_demo_city()
        self.notified.create(self.rng)
        self.stack.start_web()
        self.stack.start_worker()
        self.stack.supervise_workers()
        self.stack.start_notifier()
        self.stack.start_beat()
        wait_drained(settle_s=2.0)
        self._connect_clients()

    def _connect_clients(self) -> None:
        from django.test import Client

        from accounts.models import User
        from demo.seeding import CITY_CENTER, CITY_SPAN

        for index in range(self.client_count):
            user, _ = User.objects.get_or_create(username=f"fault-shopper-{index}")
            browser = Client()
            browser.force_login(user)
            area = Area(
                lat=CITY_CENTER[0] + self.rng.uniform(-CITY_SPAN[0], CITY_SPAN[0]) * 0.7,
                lng=CITY_CENTER[1] + self.rng.uniform(-CITY_SPAN[1], CITY_SPAN[1]) * 0.7,
                radius_km=self.rng.choice([2, 4, 6, 10]),
                categories=self.rng.choice([None, None, ["produce", "dairy", "bakery"], ["drinks", "snacks"]]),
            )
            client = LiveClient([self.stack.ws_url()], browser.cookies["sessionid"].value, area)
            self.clients.append(client.start())
        deadline = time.monotonic() + 30
        while any(c.first_cursor is None for c in self.clients):
            if time.monotonic() > deadline:
                raise RuntimeError("shoppers did not get their first snapshot")
            time.sleep(0.1)

    def stop(self) -> None:
        for client in self.clients:
            client.stop()
        self.cluster.stop()
        self.notified.stop()

    # driving -----------------------------------------------------------------------------------
    def _drive(self) -> None:
        from django.db import close_old_connections, connection

        from demo.seeding import simulate_step

        rng = random.Random(self.rng.random())
        try:
            while self.driving.is_set():
                try:
                    simulate_step(rng)
                except Exception:  # noqa: BLE001 - the database may be restarting: staff would retry too
                    connection.close()
                    time.sleep(0.2)
                    close_old_connections()
                time.sleep(1.0 / self.rate)
        finally:
            # Back to the pool: a phase's thread ends here, and one connection kept per phase emptied the
            # pool of 16 by the sixteenth phase (the driver then published nothing).
            connection.close()

    def _log_head(self) -> int:
        from eventlog.models import LogHead

        return LogHead.objects.filter(pk=1).values_list("position", flat=True).first() or 0

    def _staff_write(self, api, market_id: int, outcomes: list[int]) -> None:
        """Staff publishing and changing deals through the integration API, as a market's till would."""
        rng = random.Random(self.rng.random())
        while self.driving.is_set():
            try:
                response = api.post("/api/discounts/", json={
                    "market": market_id, "product": f"Till deal {rng.randrange(10**6)}", "category": "produce",
                    "original_price": "4.00", "price": "3.00", "ends_at": "2099-01-01T00:00:00Z",
                })
                if response.status_code == 201:
                    response = api.patch(f"/api/discounts/{response.json()['id']}/", json={"price": "2.50"})
                outcomes.append(response.status_code)
            except Exception:  # noqa: BLE001 - a connection error is a failed write too
                outcomes.append(0)
            time.sleep(0.25)

    def _probe_deals(self, durations: list[float]) -> None:
        """A shopper's plain page request every 0.2 s, timed (how fast the site is for everyone)."""
        import httpx

        with httpx.Client(base_url=self.stack.base_url, timeout=30) as http:
            while self.driving.is_set():
                started = time.perf_counter()
                try:
                    http.get("/api/deals/", params={"lat": 52.52, "lng": 13.405, "radius_km": 5})
                    durations.append((time.perf_counter() - started) * 1000)
                except Exception:  # noqa: BLE001 - a fault may take the web process away for a moment
                    pass
                time.sleep(0.2)

    def _live_latencies_ms(self, since: float) -> list[float]:
        from datetime import datetime

        return [
            (r.at - datetime.fromisoformat(r.occurred_at).timestamp()) * 1000
            for client in self.clients for r in list(client.received) if r.at >= since
        ]

    def _staff_api(self):
        import httpx
        from rest_framework.authtoken.models import Token

        from markets.models import Market

        market = Market.objects.filter(staff__isnull=False).order_by("pk").first()
        token, _ = Token.objects.get_or_create(user=market.staff.order_by("pk").first())
        return httpx.Client(base_url=self.stack.base_url, headers={"Authorization": f"Token {token.key}"}, timeout=10), market.pk

    # a phase -----------------------------------------------------------------------------------
    def phase(self, name: str, inject: Callable[[], None], *, staff_writes: bool = False) -> Tally:
        """Drive changes, inject the fault a third of the way in, heal, drain and tally.

        With ``staff_writes``, staff also publish through the HTTP API all along; a write that does
        not succeed is counted against the fault (Redis is not the record: nothing should fail).
        """
        start_position, started_at, durations, outcomes = self._drive_through(name, inject, staff_writes=staff_writes)
        live = self._live_latencies_ms(started_at)
        tally = tally_clients(name, self.clients, after=start_position)
        tally.live_p50_ms = round(statistics.median(live), 1) if live else None
        tally.get_p50_ms = round(statistics.median(durations), 1) if durations else None
        tally.staff_writes = len(outcomes)
        tally.staff_failed = sum(1 for status in outcomes if status not in (200, 201))
        return tally

    def notify_phase(self, name: str, inject: Callable[[], None]) -> NotifyTally:
        """The same drive with a fault of the notifier's parts; tallies pushes and digests instead."""
        start_position, *_ = self._drive_through(name, inject, staff_writes=False)
        wait_notifier_settled()
        tally = self.notified.tally(name, after=start_position)
        if name in ("crowd_pushes", "hostile_push_endpoints"):
            latencies = self.notified.push_latencies_ms(after=start_position)
            tally.push_p50_ms = round(percentile(latencies, 50), 1) if latencies else None
            tally.push_p99_ms = round(percentile(latencies, 99), 1) if latencies else None
            tally.notifier_before_mb, tally.notifier_peak_mb = self.notifier_memory_mb
            tally.hostile_failures = self.notified.hostile_failures()
        return tally

    def _drive_through(self, name: str, inject: Callable[[], None], *, staff_writes: bool):
        from django.db import connection

        if name in self.before_phase:
            self.before_phase[name]()
        for client in self.clients:
            client.covered.clear()
        connection.close()
        start_position = self._log_head()
        started_at = time.time()
        self.driving.set()
        durations: list[float] = []
        threads = [threading.Thread(target=self._drive, daemon=True),
                   threading.Thread(target=self._probe_deals, args=(durations,), daemon=True)]
        outcomes: list[int] = []
        if staff_writes:
            api, market_id = self._staff_api()
            threads.append(threading.Thread(target=self._staff_write, args=(api, market_id, outcomes), daemon=True))
        for thread in threads:
            thread.start()
        time.sleep(self.phase_s / 3)
        inject()
        time.sleep(self.phase_s * 2 / 3)
        self.driving.clear()
        for thread in threads:
            thread.join()
        for finish in self.after_phase:
            finish()
        self.after_phase.clear()
        wait_drained(settle_s=2.0)
        connection.close()
        return start_position, started_at, durations, outcomes

    # faults ------------------------------------------------------------------------------------
    def faults(self) -> dict[str, Callable[[], None]]:
        stack = self.stack

        def redis_restart() -> None:
            self.valkey.stop(signal.SIGKILL)
            time.sleep(1.0)
            self.valkey.start()

        def redis_network_cut() -> None:
            self.proxy.cut(2.0)

        def make_backlog() -> None:
            """Before the phase: about 2,000 events the greedy account will ask to have replayed."""
            from decimal import Decimal

            from django.db.models import F

            from discounts.models import Discount
            from eventlog.models import LogHead

            head = LogHead.objects.get(pk=1)
            self.far_back_cursor = f"{head.epoch}-{head.position}"
            listed = Discount.objects.filter(listed=True)
            for _ in range(max(1, 2000 // max(1, listed.count()))):
                listed.update(price=F("price") * Decimal("0.99"))
            wait_drained(settle_s=2.0)

        self.before_phase["abusive_account"] = make_backlog

        def abusive_account() -> None:
            # One account: 30 sockets tried from one login, then 10 that each resume once a second
            # from a cursor about 2,000 events back (the review's measurement).
            from django.test import Client

            from accounts.models import User
            from demo.seeding import CITY_CENTER

            far_back = self.far_back_cursor

            user, _ = User.objects.get_or_create(username="greedy")
            sessions = []
            for _ in range(2):
                browser = Client()
                browser.force_login(user)
                sessions.append(browser.cookies["sessionid"].value)
            area = {"lat": CITY_CENTER[0], "lng": CITY_CENTER[1], "radius_km": 12}
            greedy = GreedyAccount(stack.ws_url(), sessions, area, cursor=far_back)
            greedy.start()

            def finish() -> None:
                self.abuse = greedy.stop()

            self.after_phase.append(finish)

        def redis_outage() -> None:
            # Down for most of the rest of the phase, while staff keep publishing through the API.
            self.valkey.stop(signal.SIGKILL)
            time.sleep(self.phase_s / 2)
            self.valkey.start()

        def worker_sigkill() -> None:
            stack.kill(stack.workers.pop(0))
            stack.start_worker()

        def web_restart() -> None:
            port = stack.stop_web(0)
            stack.start_web(port)

        def postgres_restart() -> None:
            self.postgres.stop("immediate")
            time.sleep(1.0)
            self.postgres.start()

        def client_offline() -> None:
            away = self.clients[: max(1, len(self.clients) // 3)]
            for client in away:
                client.go_offline()
            time.sleep(self.offline_s)
            for client in away:
                client.go_online()

        def poison_row() -> None:
            from django.db import transaction

            from eventlog.models import OutboxEvent

            with transaction.atomic():
                OutboxEvent.objects.create(type="discount.updated", deal_id=-1, market_id=-1, cells=["87283472bffffff"],
                                           footprints=[[52.52, 13.4, "produce"]], envelope={"broken": True})

        def slow_client() -> None:
            for client in self.clients[:3]:
                client.read_delay_s = 0.05
            time.sleep(self.phase_s / 3)
            for client in self.clients[:3]:
                client.read_delay_s = 0.0

        def out_of_order_commit() -> None:
            from django.db import connection, transaction

            from demo.seeding import random_deal_fields
            from discounts import services
            from discounts.models import Category
            from markets.models import Market

            def slow_commit() -> None:
                with transaction.atomic():
                    market = Market.objects.order_by("?").first()
                    services.discount_create(market=market, **random_deal_fields(random.Random(7), list(Category.objects.all())))
                    time.sleep(self.phase_s / 3)
                connection.close()

            threading.Thread(target=slow_commit, daemon=True).start()

        def bulk_update() -> None:
            from decimal import Decimal

            from django.db.models import F

            from discounts.models import Discount
            from markets.models import Market

            market = Market.objects.order_by("?").first()
            Discount.objects.filter(market=market, listed=True).update(price=F("price") * Decimal("0.9"))

        return {
            "redis_restart": redis_restart, "redis_outage": redis_outage, "redis_network_cut": redis_network_cut,
            "worker_sigkill": worker_sigkill,
            "web_restart": web_restart, "postgres_restart": postgres_restart, "client_offline": client_offline,
            "poison_row": poison_row, "slow_client": slow_client, "out_of_order_commit": out_of_order_commit,
            "bulk_update": bulk_update, "abusive_account": abusive_account,
        }


    def notifier_faults(self) -> dict[str, Callable[[], None]]:
        stack, notified = self.stack, self.notified

        def notifier_sigkill() -> None:
            # Mid-batch: the notifier reads the log every half second while deals keep coming.
            stack.kill(stack.notifier)
            time.sleep(1.0)
            stack.start_notifier()

        def push_service_down() -> None:
            notified.push.down = True
            time.sleep(self.phase_s / 2)
            notified.push.down = False

        def smtp_down() -> None:
            notified.mailbox.stop()
            notified.want_digests()
            time.sleep(self.phase_s / 2)
            notified.mailbox.start()

        def add_crowd() -> None:
            notified.add_crowd(self.crowd)

        self.before_phase["crowd_pushes"] = add_crowd

        def sample_memory(then: Callable[[], None] = lambda: None) -> None:
            sampler = ProcessTreeSampler(stack.notifier.pid)
            before = sampler.current_mb()
            then()
            sampler.start()
            self.after_phase.append(lambda: setattr(self, "notifier_memory_mb", (before, sampler.stop())))

        def crowd_pushes() -> None:
            # The control for the next phase: the same crowd, no hostile account.
            sample_memory()

        def hostile_push_endpoints() -> None:
            # One account's browsers misbehave from now on, in the same batches as the crowd's pushes.
            sample_memory(then=notified.add_hostile_account)

            def first_hostile_outcome() -> None:
                # Its rows go one at a time; the first one's outcome comes at its push's deadline.
                from notifications.models import Notification

                wait_for(lambda: Notification.objects.filter(user__username="hostile", attempts__gt=0).exists(), timeout=60)

            self.after_phase.insert(0, first_hostile_outcome)

        return {
            "notifier_sigkill": notifier_sigkill, "push_service_down": push_service_down, "smtp_down": smtp_down,
            "crowd_pushes": crowd_pushes, "hostile_push_endpoints": hostile_push_endpoints,
        }


def print_notify_table(tallies: list[NotifyTally]) -> None:
    columns = ["fault", "published", "expected", "decided", "pushes", "lost", "duplicated", "dead", "digests",
               "digests_lost", "digests_duplicated"]
    print("\n" + " | ".join(f"{c:>18}" for c in columns))
    for tally in tallies:
        row = asdict(tally)
        print(" | ".join(f"{str(row[c]):>18}" for c in columns) + ("" if tally.ok else "   <-- FAILED"))
    for tally in tallies:
        if tally.push_p99_ms is not None:
            print(
                f"{tally.fault}: honest pushes commit-to-push p50 {tally.push_p50_ms} ms, p99 {tally.push_p99_ms} ms; "
                f"notifier memory {tally.notifier_before_mb} MB before the attack, {tally.notifier_peak_mb} MB at its peak"
                f" (all its processes)" + (f"; the hostile account's rows: {tally.hostile_failures}" if tally.hostile_failures else "")
            )


def print_table(tallies: list[Tally]) -> None:
    columns = ["fault", "sent", "expected", "delivered", "resynced", "lost", "duplicated", "out_of_order",
               "view_mismatches", "staff_writes", "staff_failed", "live_p50_ms", "get_p50_ms"]
    print("\n" + " | ".join(f"{c:>18}" if c == "fault" else f"{c:>10}" for c in columns))
    for tally in tallies:
        row = asdict(tally)
        print(" | ".join(f"{row[c]:>18}" if c == "fault" else f"{str(row[c]):>10}" for c in columns)
              + ("" if tally.ok else "   <-- FAILED"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the quick form run by make test")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--only", nargs="*", help="fault kinds to run")
    parser.add_argument("--json", type=Path, help="write the tallies here")
    args = parser.parse_args(argv)
    run = FaultRun(
        clients=args.clients or (12 if args.short else 40),
        phase_s=4.0 if args.short else 9.0,
        offline_s=3.0 if args.short else 60.0,
        rate=8.0 if args.short else 10.0,
        seed=2026,
        crowd=200 if args.short else 1000,
    )
    tallies: list[Tally] = []
    notify_tallies: list[NotifyTally] = []
    try:
        print(f"starting PostgreSQL, Valkey, daphne, Celery and {run.client_count} shoppers in {run.workdir}", flush=True)
        run.start()
        for name, inject in run.faults().items():
            if args.only and name not in args.only:
                continue
            print(f"  {name} ...", end="", flush=True)
            started = time.monotonic()
            tally = run.phase(name, inject, staff_writes=name in STAFF_WRITE_FAULTS)
            tallies.append(tally)
            print(f" {'ok' if tally.ok else 'FAILED'} ({tally.sent} events, {time.monotonic() - started:.0f}s)", flush=True)
        for name, inject in run.notifier_faults().items():
            if args.only and name not in args.only:
                continue
            print(f"  {name} ...", end="", flush=True)
            started = time.monotonic()
            tally = run.notify_phase(name, inject)
            notify_tallies.append(tally)
            print(f" {'ok' if tally.ok else 'FAILED'} ({tally.pushes} pushes so far, {time.monotonic() - started:.0f}s)", flush=True)
    finally:
        crashes = run.stack.worker_crashes if run.stack else 0
        run.stop()
    print_table(tallies)
    if notify_tallies:
        print_notify_table(notify_tallies)
    print(f"\nCelery workers that exited on their own and were restarted (as a supervisor would): {crashes}")
    if run.abuse is not None:
        a = run.abuse
        print(
            f"abusive_account: {a.sockets_refused} of {a.sockets_tried} sockets from one login refused (cap 10); "
            f"{a.resumes_sent} far-back resumes from 10 sockets got {a.snapshots} snapshots, {a.events} events and "
            f"{a.rate_limited} rate-limit errors ({a.bytes_received / 1e6:.1f} MB in all); the others' figures are "
            "in its row above"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in tallies + notify_tallies], indent=2))
    failed = [t.fault for t in tallies + notify_tallies if not t.ok]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}; logs in {run.stack.logdir if run.stack else run.workdir}")
        return 1
    print("\nall faults healed: nothing lost, nothing out of order, every view equals a fresh fetch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
