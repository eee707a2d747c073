"""Deal commits alone, on their own throw-away PostgreSQL (fsync off) and Valkey.

``python -m bench.commits [--seconds S] [--runs R] [--profile FILE]``: seeds the demo city, starts a
Celery worker and beat as ``make bench`` does (the relay consumes while the writer commits), then R
times measures one writer's commits through the staff service, post-save receiver and outbox for S
seconds. The same measurement as ``make bench``'s "deal commits/s" row, without the rest of the
benchmark, so two commits can be compared back to back; ``--profile`` py-spies the writer (this
process) into a collapsed-stack file for ``bench/profile_top.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from harness.cluster import LocalCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", help="write a py-spy profile (collapsed stacks) of the writer here")
    args = parser.parse_args()
    cluster = LocalCluster(name="commits", extra_env={"RELAY_SWEEP_SECONDS": "1", "REALTIME_RECONCILE_SECONDS": "1"})
    try:
        cluster.start_servers()
        from bench.measure import measure_commits, percentile
        from demo.seeding import seed_demo_city
        from harness.verify import wait_drained

        seed_demo_city()
        cluster.stack.start_worker()
        cluster.stack.start_beat()
        wait_drained()
        spy = None
        if args.profile:
            # Idle samples too: a commit's wall time is mostly waiting on PostgreSQL's round trips.
            spy = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--format", "raw",
                                    "--idle", "-r", "200", "-d", str(int(args.seconds * args.runs)), "-p", str(os.getpid()),
                                    "-o", args.profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(args.runs):
            rate, lags = measure_commits(args.seconds)
            print(f"{rate:,.1f} commits/s; relay lag p50 {percentile(lags, 50)} ms, p99 {percentile(lags, 99)} ms", flush=True)
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
