"""Render bench/results/<name>.json as the README's table against the issue's goals."""

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
    rows = [
        ("commit-to-socket latency p50 / p99 (ms)", f"{fmt(lat['p50'])} / {fmt(lat['p99'])}", "≤ 25 / ≤ 150", "≤ 10 / ≤ 60"),
        ("connections held", f"{result['connections']} ({result['connect_failures']} failed)", "10,000", "20,000"),
        ("connect burst (s)", fmt(result["connect_burst_s"]), "10,000 back in 30 s", "in 10 s"),
        ("memory per connection (KB)", fmt(result["memory_per_connection_kb"]), "≤ 48", "≤ 32"),
        ("deliveries/s at the reference rate", fmt(result["deliveries_per_s"]), "~1,800", ""),
        ("deliveries/s with p99 ≤ 250 ms", fmt(result["max_deliveries_per_s_p99_under_250ms"]), "4,000", "20,000"),
        ("server CPU at the reference rate (% of one core)", fmt(result["cpu_percent"]), "", ""),
        ("outbox relay (events/s)", fmt(result["relay_events_per_s"]), "10,000", "30,000"),
        ("relay lag p50 / p99 (ms)", f"{fmt(lag['p50'])} / {fmt(lag['p99'])}", "p99 < 100", ""),
        ("deal commits/s through signal + outbox (one writer)", fmt(result["commits_per_s"]), "500", "1,500"),
        ("3 s polling: staleness p50 / p99 (ms)", f"{fmt(stale)} / {fmt(poll['staleness_ms']['p99'])}", "", ""),
        ("3 s polling: requests/s, bytes/s", f"{fmt(poll['requests_per_s'])}, {fmt(poll['bytes_per_s'])} ({poll['clients']} clients)", "", ""),
        ("sockets vs polling: fresher (staleness p50 / latency p50)", f"{fmt(fresher)}×", "≥ 60×", ""),
    ]
    lines = ["| figure | measured | must | stretch |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append("")
    lines.append("| rate (changes/s) | deliveries/s | latency p50 / p95 / p99 (ms) | CPU (%) |")
    lines.append("| --- | --- | --- | --- |")
    for p in result["phases"]:
        lat = p["latency_ms"]
        lines.append(f"| {p['rate']:g} | {p['deliveries_per_s']:g} | {fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['p99'])} | {p['cpu']:g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.loads((RESULTS / f"{sys.argv[1] if len(sys.argv) > 1 else 'quick'}.json").read_text())))
