"""Render bench/results/<name>.json as the README's table against the goals of issue 10."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(value) -> str:
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def table(result: dict) -> str:
    lat, lag, poll = result["latency_ms"], result["relay_lag_ms"], result["polling"]
    stale = poll["staleness_ms"]["p50"]
    fresher = round(stale / lat["p50"], 1) if stale and lat["p50"] else None
    staff, storm = result["staff_writes"], result["reconnect_storm"]
    rows = [
        ("shoppers connected / failed", f"{result['connections']} / {result['connect_failures']}", "10,000 / 0", "20,000 / 0"),
        ("connect burst (s)", fmt(result["connect_burst_s"]), "≤ 30", "≤ 10"),
        ("web CPU per connect (ms)", fmt(result.get("web_cpu_ms_per_connect")), "", ""),
        ("commit-to-socket latency p50 / p99 (ms), reference rate",
         f"{fmt(lat['p50'])} / {fmt(lat['p99'])}", "≤ 25 / ≤ 150", "≤ 10 / ≤ 60"),
        ("deliveries/s at the reference rate", fmt(result["deliveries_per_s"]), "", ""),
        ("deliveries/s with p99 ≤ 250 ms (saturation sweep)", fmt(result["saturation_deliveries_per_s"]), "10,000", "20,000"),
        ("web CPU per delivery (µs), reference rate", fmt(result["cpu_us_per_delivery"]), "≤ 80", "≤ 40"),
        ("sockets offered an event per socket sent it", fmt(result["dispatched_per_delivered"]), "", ""),
        ("memory per connection (KB)", fmt(result["memory_per_connection_kb"]), "≤ 40", "≤ 32"),
        ("deal commits/s through services + outbox (one writer)", fmt(result["commits_per_s"]), "500", "1,500"),
        ("outbox relay (events/s)", fmt(result["relay_events_per_s"]), "10,000", "30,000"),
        ("relay lag p50 / p99 (ms)", f"{fmt(lag['p50'])} / {fmt(lag['p99'])}", "", ""),
        ("reconnect storm: all back (s); lost; duplicated",
         f"{fmt(storm['storm_s'])}; {storm['lost']} of {storm['expected_deliveries']}"
         + (f" ({storm['resynced']} more shown by a snapshot)" if storm.get("resynced") else "")
         + f"; {storm['duplicates']}", "≤ 30; 0; 0", "≤ 10"),
        ("reconnect storm: web CPU per shopper, drop and return (ms)", fmt(storm.get("web_cpu_ms_per_shopper")), "", ""),
        ("web process's garbage collections by generation: count × mean pause (ms), over 100 ms",
         "; ".join(f"gen {g}: {c['collections']} × {fmt(c['mean_ms'])}, {c['over_100ms']}"
                   for g, c in result.get("web_gc_pauses", {}).items()) or "–", "", ""),
        ("staff writes over HTTP: failed / over 1 s / total",
         f"{staff['failed']} / {staff['over_1s']} / {staff['requests']}"
         + "".join(f"; {n} sent during {phase}" for phase, n in staff.get("slow_or_failed_by_phase", {}).items()),
         "0 / 0", "0 / 0"),
        ("3 s polling staleness p50 / p99 (ms)", f"{fmt(stale)} / {fmt(poll['staleness_ms']['p99'])}", "", ""),
        ("sockets fresher than 3 s polling (staleness p50 / latency p50)", f"{fmt(fresher)}×", "≥ 60×", "≥ 100×"),
    ]
    notifier = result.get("notifier")
    if notifier:
        sent, backlog = notifier["commit_to_push_sent_ms"], notifier["backlog"]
        rows += [
            (f"notifier: notifications/s at the reference rate ({notifier['opted_in']} opted in)",
             fmt(notifier["notifications_per_s"]), "", ""),
            ("notifier: commit to push sent p50 / p99 (ms)", f"{fmt(sent['p50'])} / {fmt(sent['p99'])}", "", ""),
            ("notifier: catching up a backlog, notifications/s (incl. worker start)",
             f"{fmt(backlog['notifications_per_s'])} ({backlog['notifications']} in {fmt(backlog['caught_up_s'])} s)", "", ""),
        ]
    lines = ["| figure | measured | must | stretch |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append("")
    # Which program had the two cores in each phase (``cpu_by_program``, since 4aa107b): the load
    # generator, the driver and PostgreSQL share them with the servers.
    programs = {"daphne": "web", "uvicorn": "web", "celery": "relay worker", "bench.loadgen": "load generator",
                "bench.run": "driver", "postgres": "PostgreSQL"}
    split = any("cpu_by_program" in p for p in result["phases"])
    lines.append("| rate (changes/s) | deliveries/s | latency p50 / p95 / p99 (ms) | server CPU (%) | web CPU per delivery (µs)"
                 " | garbage collections in the phase: web process; load generator (over 10 ms) |"
                 + (" CPU by program (% of one core) |" if split else ""))
    lines.append("| --- | --- | --- | --- | --- | --- |" + (" --- |" if split else ""))
    for p in result["phases"]:
        lat = p["latency_ms"]
        server = ", ".join(f"gen {g}: {span}" for g, span in p.get("gc", {}).items()) or "none"
        client = ", ".join(f"gen {g}: {span}" for g, span in p.get("client_gc", {}).items()) or "none"
        collections = f"{server}; {client}" if "client_gc" in p else ""
        by_program = ", ".join(f"{name} {p.get('cpu_by_program', {}).get(key, 0):g}" for key, name in programs.items()
                               if key in p.get("cpu_by_program", {}))
        lines.append(f"| {p['rate']:g} | {p['deliveries_per_s']:g} | {fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['p99'])}"
                     f" | {p['cpu']:g} | {fmt(p['cpu_us_per_delivery'])} | {collections} |"
                     + (f" {by_program} |" if split else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.loads((RESULTS / f"{sys.argv[1] if len(sys.argv) > 1 else 'quick'}.json").read_text())))
