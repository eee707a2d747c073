"""The fault suite's short form: every fault kind, real processes, nothing lost or out of order."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.stack


def test_short_fault_suite_loses_nothing(tmp_path):
    report = tmp_path / "faults.json"
    result = subprocess.run(
        [sys.executable, "-m", "harness.faults", "--short", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    everything = {t["fault"]: t for t in json.loads(report.read_text())}
    notifier = {name: everything.pop(name) for name in ("notifier_sigkill", "push_service_down", "smtp_down",
                                                         "crowd_pushes", "hostile_push_endpoints")}
    tallies = everything
    assert set(tallies) == {
        "redis_restart", "redis_outage", "redis_network_cut", "worker_sigkill", "web_restart", "postgres_restart",
        "client_offline", "poison_row", "slow_client", "out_of_order_commit", "bulk_update", "abusive_account",
    }
    # the notifier's faults: every push and digest decided arrived, once
    for tally in notifier.values():
        assert tally["lost"] == 0 and tally["duplicated"] == 0 and tally["dead"] == 0, tally
        assert tally["published"] > 0 and tally["expected"] > 0 and tally["decided"] >= tally["expected"], tally
    # one account's hanging, trickling, huge, redirecting and keyless browsers beside 200 honest ones:
    # the honest pushes all arrived once (above), and the hostile ones ended as retries with a reason
    hostile = notifier["hostile_push_endpoints"]
    assert hostile["expected"] >= 200 and hostile["push_p99_ms"] is not None and hostile["notifier_peak_mb"] > 0, hostile
    assert "timeout" in hostile["hostile_failures"] or "redirect" in hostile["hostile_failures"], hostile
    assert notifier["smtp_down"]["digests"] > 0 and notifier["smtp_down"]["digests_lost"] == 0, notifier["smtp_down"]
    assert notifier["smtp_down"]["digests_duplicated"] == 0, notifier["smtp_down"]
    for tally in tallies.values():
        assert tally["lost"] == 0 and tally["out_of_order"] == 0 and tally["view_mismatches"] == 0, tally
        assert tally["sent"] > 0 and tally["delivered"] == tally["expected"] > 0, tally
    # one greedy account's far-back resumes got snapshots and rate limits, not a frame per missed event
    assert "20 of 30 sockets from one login refused" in result.stdout, result.stdout[-2000:]
    # staff kept publishing through the API while Redis was away
    for fault in ("redis_restart", "redis_outage"):
        assert tallies[fault]["staff_writes"] > 0 and tallies[fault]["staff_failed"] == 0, tallies[fault]
