"""``make run``: start what the app needs, prepare the database, and run web, worker and beat.

With ``DATABASE_URL``/``REDIS_URL`` unset, the embedded servers are started (or reused) and stopped
again when this launcher exits, unless another process still uses them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDED_MARKER = ROOT / "var" / ".demo-seeded"


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    args = parser.parse_args()

    os.environ["DEALCAST_LOCAL"] = "1"
    os.environ["PORT"] = str(args.port)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        from config.embedded import ensure_servers

        servers = ensure_servers()
        os.environ.setdefault("DATABASE_URL", servers.database_url)
        os.environ.setdefault("REDIS_URL", servers.redis_url)
        print(f"Embedded PostgreSQL and Valkey running, data in {ROOT / 'var'}", flush=True)

    _manage("migrate", "--noinput")
    if not SEEDED_MARKER.exists():
        _manage("seed_demo")
        SEEDED_MARKER.write_text("seeded\n")
    from discounts.demo_accounts import DEMO_PASSWORDS

    print(
        f"\nDealcast is at http://127.0.0.1:{args.port}/  (Ctrl-C stops everything)\n"
        f"  shopper: shopper / {DEMO_PASSWORDS['shopper']}\n"
        f"  market staff: staff01 .. staff24 / {DEMO_PASSWORDS['staff']}  (admin at /admin/)\n"
        f"  admin: admin / {DEMO_PASSWORDS['admin']}\n",
        flush=True,
    )
    venv_bin = Path(sys.executable).parent
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    honcho = venv_bin / "honcho"
    processes = subprocess.Popen([str(honcho), "start", "-f", str(ROOT / "Procfile")], cwd=ROOT)

    def forward(signum, frame):
        # honcho stops web, worker and beat cleanly; this process then releases the servers.
        processes.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    processes.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
