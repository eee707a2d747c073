"""The outbox relay alone, on its own throw-away PostgreSQL (fsync off) and Valkey.

``python -m bench.relay [--events N] [--runs R]``: seeds the demo city, then R times inserts N deals
in one statement (their outbox rows with them) and times one relay turn draining them: sequencing
and the push to Redis pub/sub, nothing else running. The same measurement as ``make bench``'s
"outbox relay" row, without the rest of the benchmark, so two commits can be compared back to back.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

from harness.cluster import LocalCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cluster = LocalCluster(name="relay")
    try:
        cluster.start_servers()
        from django.core.management import call_command

        from bench.measure import measure_relay

        call_command("seed_demo", verbosity=0)
        rates = [measure_relay(SimpleNamespace(workers=[], beat=None), args.events) for _ in range(args.runs)]
        print(f"relay alone, {args.events} events a run: " + ", ".join(f"{rate:,.0f}" for rate in rates) + " events/s")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
