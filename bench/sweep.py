"""The connection sweep: ``make bench``'s whole run at 1,000, 5,000, 10,000 and 20,000 shoppers.

``python -m bench.sweep [--connections 1000,5000,10000,20000] [--report]``: one ``bench.run`` per
load, one after another, each writing ``bench/results/connections-<N>.json`` and its plot; then the
table of the figures that change with the number of sockets, and ``bench/results/connections.png``.
Past 10,000 shoppers each 10,000 get a web process and a load generator of their own, for a process
here may hold at most 20,000 open files. ``--report`` renders the table and plot from the JSON
files already there, without running anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.report import fmt

RESULTS = Path(__file__).resolve().parent / "results"
SOCKETS_PER_WEB_PROCESS = 10000


def web_processes(connections: int) -> int:
    return -(-connections // SOCKETS_PER_WEB_PROCESS)


def result_path(connections: int) -> Path:
    return RESULTS / f"connections-{connections}.json"


def run(connections: int) -> None:
    subprocess.run([sys.executable, "-m", "bench.run", "--connections", str(connections),
                    "--web", str(web_processes(connections)), "--name", result_path(connections).stem], check=True)


def table(results: list[dict]) -> str:
    lines = ["| shoppers (web processes) | commit | connected / failed | connect burst (s) | web CPU per connect (ms)"
             " | latency p50 / p99 at 10 changes/s (ms) | deliveries/s at 10 changes/s | web CPU per delivery (µs)"
             " | deliveries/s with p99 ≤ 250 ms | memory per connection (KB) | reconnect storm: back (s); lost; duplicated"
             " | staff writes failed / over 1 s | whole run (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lat, storm, staff = r["latency_ms"], r["reconnect_storm"], r["staff_writes"]
        lines.append(
            f"| {r['settings']['connections']:,} ({r['settings']['web_processes']}) | {r['commit']}"
            f" | {r['connections']} / {r['connect_failures']} | {fmt(r['connect_burst_s'])} | {fmt(r['web_cpu_ms_per_connect'])}"
            f" | {fmt(lat['p50'])} / {fmt(lat['p99'])} | {fmt(r['deliveries_per_s'])} | {fmt(r['cpu_us_per_delivery'])}"
            f" | {fmt(r['saturation_deliveries_per_s'])} | {fmt(r['memory_per_connection_kb'])}"
            f" | {fmt(storm['storm_s'])}; {storm['lost']} of {storm['expected_deliveries']}; {storm['duplicates']}"
            f" | {staff['failed']} / {staff['over_1s']} | {fmt(r.get('wall_s'))} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["connections"] for r in results]
    fig, (latency, throughput, cost) = plt.subplots(1, 3, figsize=(13, 4))
    latency.plot(x, [r["latency_ms"]["p50"] for r in results], "o-", label="p50")
    latency.plot(x, [r["latency_ms"]["p99"] for r in results], "^-", label="p99")
    latency.set_title("commit-to-socket latency at 10 changes/s")
    latency.set_ylabel("ms")
    throughput.plot(x, [r["saturation_deliveries_per_s"] for r in results], "o-", label="with p99 ≤ 250 ms")
    throughput.plot(x, [r["deliveries_per_s"] for r in results], "s--", label="at 10 changes/s")
    throughput.set_title("socket deliveries per second")
    cost.plot(x, [r["cpu_us_per_delivery"] for r in results], "o-", label="web CPU per delivery (µs)")
    cost.plot(x, [r["memory_per_connection_kb"] for r in results], "s--", label="memory per connection (KB)")
    cost.plot(x, [r["connect_burst_s"] for r in results], "^:", label="connect burst (s)")
    cost.set_title("costs")
    for ax in (latency, throughput, cost):
        ax.set_xlabel("shoppers connected")
        ax.legend()
    fig.suptitle("make bench by number of shoppers, one run each, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=lambda text: [int(n) for n in text.split(",")], default=[1000, 5000, 10000, 20000])
    parser.add_argument("--report", action="store_true", help="render the table and plot from the results already written")
    args = parser.parse_args()
    if not args.report:
        for connections in args.connections:
            run(connections)
    missing = [str(result_path(n)) for n in args.connections if not result_path(n).exists()]
    if missing:
        print(f"no result yet: {', '.join(missing)} (run without --report)", file=sys.stderr)
        return 2
    results = [json.loads(result_path(n).read_text()) for n in args.connections]
    plot(results, RESULTS / "connections.png")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
