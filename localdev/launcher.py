"""``make run``: start what the app needs, prepare the database, and run web, worker and beat.

With ``DATABASE_URL``/``REDIS_URL`` unset, the embedded servers are started (or reused) and stopped
again when this launcher exits, unless another process still uses them. With ``--web N`` above 1, N
daphne processes listen on the ports after ``--port`` and nginx (or, without nginx, the round-robin
fallback in ``localdev/balancer.py``) serves ``--port`` in front of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from localdev import embedded

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / "var" / "run"
# Keepalive pings every 60 s, not daphne's 20: each ping round walks every socket (see docs/realtime.md).
# A handshake may wait 30 s for the app to accept it, not daphne's 5: in a reconnect storm sockets
# queue for the database, and one refused after its wait is work thrown away and a retry added.
DAPHNE = (
    "daphne -e tcp:port={port}:interface=127.0.0.1:backlog=1024 --ping-interval 60 --ping-timeout 30"
    " --websocket_connect_timeout 30 config.asgi:application"
)
WORKER = "celery -A config worker --loglevel=INFO --concurrency=${{WORKER_CONCURRENCY:-2}} -n worker{index}@%h"
# The notifier's own worker on its own queue (settings.NOTIFY_QUEUE): notifications never queue
# behind the relay that feeds the live sockets, nor the reverse.
NOTIFIER = "celery -A config worker --loglevel=INFO --concurrency=2 -Q ${NOTIFY_QUEUE:-${CELERY_QUEUE:-dealcast}-notify} -n notifier@%h"
BEAT = "celery -A config beat --loglevel=INFO --schedule=var/celerybeat-schedule"
NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log stderr warn;
{user}
events {{ worker_connections 20000; }}
http {{
    access_log off;
    client_body_temp_path {run}/nginx-body;
    proxy_temp_path {run}/nginx-proxy;
    fastcgi_temp_path {run}/nginx-fastcgi;
    uwsgi_temp_path {run}/nginx-uwsgi;
    scgi_temp_path {run}/nginx-scgi;
    upstream dealcast_web {{
{servers}
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{
            proxy_pass http://dealcast_web;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def write_procfile(*, port: int, web: int, workers: int) -> Path:
    """The processes for this run: web (one, or N behind a balancer), workers, beat."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    lines = []
    if web == 1:
        lines.append(f"web: {DAPHNE.format(port=port)}")
    else:
        backends = [port + 1 + i for i in range(web)]
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        # nginx appends the client's address to X-Forwarded-For: the web processes trust that one hop.
        # The TCP fallback passes the connection through as it is, so there is nothing to trust.
        trust = "TRUSTED_PROXY_COUNT=1 " if nginx else ""
        lines += [f"web{i + 1}: {trust}{DAPHNE.format(port=p)}" for i, p in enumerate(backends)]
        if nginx:
            conf = RUN_DIR / "nginx.conf"
            conf.write_text(NGINX_CONF.format(
                run=RUN_DIR, port=port, user="user root;" if os.geteuid() == 0 else "",
                servers="\n".join(f"        server 127.0.0.1:{p};" for p in backends),
            ))
            lines.append(f"balancer: {nginx} -c {conf}")
        else:
            print("nginx not found: using the round-robin fallback (localdev/balancer.py)", flush=True)
            lines.append(f"balancer: python -m localdev.balancer --listen {port} --backends {','.join(map(str, backends))}")
    lines += [f"worker{i + 1}: {WORKER.format(index=i + 1)}" for i in range(workers)]
    lines.append(f"notifier: {NOTIFIER}")
    lines.append(f"beat: {BEAT}")
    procfile = RUN_DIR / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")
    return procfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--web", type=int, default=1, help="daphne processes")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    args = parser.parse_args()

    os.environ["DEALCAST_LOCAL"] = "1"
    os.environ["PORT"] = str(args.port)
    if embedded.use_unless_configured():
        print(f"Embedded PostgreSQL and Valkey running, data in {ROOT / 'var'}", flush=True)

    _manage("migrate", "--noinput")
    # Idempotent: the first start creates the demo city, later ones find it and change nothing.
    _manage("seed_demo")
    from demo.accounts import DEMO_PASSWORDS

    procfile = write_procfile(port=args.port, web=max(1, args.web), workers=max(1, args.workers))
    print(
        f"\nDealcast is at http://127.0.0.1:{args.port}/  ({args.web} web, {args.workers} worker; Ctrl-C stops everything)\n"
        f"  shopper: shopper / {DEMO_PASSWORDS['shopper']}\n"
        f"  market staff: staff01 .. staff24 / {DEMO_PASSWORDS['staff']}  (admin at /admin/, dashboard at /staff/)\n"
        f"  admin: admin / {DEMO_PASSWORDS['admin']}\n",
        flush=True,
    )
    venv_bin = Path(sys.executable).parent
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    processes = subprocess.Popen([str(venv_bin / "honcho"), "start", "-f", str(procfile), "-d", str(ROOT)], cwd=ROOT)

    def forward(signum, frame):
        # honcho stops every process cleanly; this process then releases the servers.
        processes.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    processes.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
