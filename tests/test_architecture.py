"""The import rules of docs/architecture.md hold, and the check that enforces them can fail."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).parent / "lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_the_apps_import_only_downwards():
    result = _lint(ROOT)

    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_check(tmp_path):
    # given a copy of the code in which the event log imports the live delivery above it
    copy = tmp_path / "dealcast"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "var", "node_modules", "results",
                                                             "__pycache__", "screenshots", "*.png"))
    (copy / "eventlog" / "probe.py").write_text("from realtime.hub import hub  # noqa: F401\n")

    # when the same check runs there
    result = _lint(copy)

    # then it fails and names the import
    assert result.returncode != 0
    assert "eventlog is not allowed to import realtime" in result.stdout
    assert "eventlog.probe -> realtime.hub" in result.stdout
